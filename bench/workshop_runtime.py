"""Each bundled workshop's reference solution, run as a learner would with one parameter set.

Runs `source/<workshop>/*.ipynb` with the set injected exactly as `workshop release` does
(papermill's parameterisation), in a fresh python3 kernel through nbclient, kernel start
included, and prints the wall time per notebook. Target (issue 6): under 10 s each with the
`small` set on one CPU core; pin the run with `taskset -c 0` to measure that.

    python bench/workshop_runtime.py [--set small] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nbclient import NotebookClient

from course.notebook_io import read_notebook
from course.parameterise import parameter_sets, parameterise

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 10.0


def run_once(path: Path, parameter_set: str) -> float:
    nb = read_notebook(path)
    nb = parameterise(nb, parameter_sets(nb)[parameter_set])
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="small", help="parameter set (default: small)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per notebook; best kept")
    args = parser.parse_args()
    slowest = 0.0
    for path in sorted((REPO / "source").glob("*/*.ipynb")):
        times = [run_once(path, args.set) for _ in range(args.repeat)]
        best, worst = min(times), max(times)
        slowest = max(slowest, best)
        print(f"{path.parent.name:26s} best {best:5.1f} s   worst {worst:5.1f} s", flush=True)
    verdict = "met" if slowest < TARGET_S else "missed"
    print(f"slowest workshop: {slowest:.1f} s (target under {TARGET_S:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
