"""`workshop grade` against `nbgrader autograde`, side by side, on the bundled workshops.

Builds one course with N learners' submissions of every bundled workshop, copies it and
measures, in the same run:
  - nbgrader:  `nbgrader autograde WS` for each workshop (its normal, serial way);
  - workshop:  `workshop grade WS1 WS2 ... --workers W`, every workshop in one call (nbgrader
               takes one assignment per call), figures as PNG like nbgrader's (the default);
  - workshop --figures text: the same, figures kept as their text form (no PNG rendering);
  - floor:     the same submissions' code (learner cells + full tests) as plain Python
               scripts, one process per notebook, W at a time, figures rendered to PNG after
               each cell as Jupyter's inline backend does (tight bounding box): the cost of the
               code itself plus an interpreter and its imports, with no grading around it;
  - floor without figures: the same scripts, figures closed unrendered.
Prints wall times and ratios; checks that every grader gave identical scores.

    python bench/grade_vs_nbgrader.py [--learners 60] [--workers 2] [--workshop NAME]...
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ds_course
from simulate import make_cohort

REPO = Path(__file__).resolve().parent.parent
PEER = REPO.parent / "shared" / "peers" / "nbgrader-example-course"
BIN = Path(sys.executable).parent
SCORES = (
    "select st.id, bc.name, g.auto_score from grade g "
    "join submitted_notebook sn on g.notebook_id = sn.id "
    "join submitted_assignment sa on sn.assignment_id = sa.id "
    "join student st on sa.student_id = st.id join base_cell bc on g.cell_id = bc.id"
)


def build_course(root: Path, learners: int, only: list[str] | None = None) -> list[str]:
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source", root / "source")
    workshops = sorted(p.name for p in (root / "source").iterdir() if p.is_dir())
    workshops = [w for w in workshops if not only or w in only]
    for workshop in workshops:
        run([BIN / "workshop", "release", workshop], root)
        make_cohort(root, workshop, learners, seed=len(workshop))
    return workshops


def build_peer_course(root: Path, learners: int, only: list[str] | None = None) -> list[str]:
    """nbgrader's own example course, its two real submissions of ps1 copied to N learners."""
    if not PEER.is_dir():
        sys.exit(f"{PEER} not found: put ../shared beside the repository")
    shutil.copytree(PEER, root)
    run([BIN / "nbgrader", "generate_assignment", "ps1", "--force"], root)
    originals = sorted((root / "submitted").iterdir())
    for i in range(learners):
        shutil.copytree(originals[i % len(originals)], root / "submitted" / f"learner{i:03d}")
    for original in originals:
        shutil.rmtree(original)
    return ["ps1"]


def build_ds_course(root: Path, learners: int, only: list[str] | None = None) -> list[str]:
    """A data-science course written here (pandas, scikit-learn, PIL; see ds_course.py)."""
    return [a for a in ds_course.build(root, learners) if not only or a in only]


BUILDERS = {
    "bundled": build_course,
    "nbgrader-example": build_peer_course,
    "data-science": build_ds_course,
}


def submitted(root: Path) -> Path:
    """var/submitted in the bundled course, submitted/ in nbgrader's example course."""
    return root / "var" / "submitted" if (root / "var").is_dir() else root / "submitted"


def run(command: list[object], cwd: Path) -> float:
    start = time.perf_counter()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode not in (0, 1):
        sys.exit(f"{command} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


# Like Jupyter's inline backend: after each cell, open figures become PNG images (or, with
# figures as text, are closed unrendered).
RENDER = """import io
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _render():
    for number in plt.get_fignums():
        if {png}:
            plt.figure(number).savefig(io.BytesIO(), format="png", bbox_inches="tight")
    plt.close("all")


"""


def floor_scripts(root: Path, workshop: str, png: bool) -> list[Path]:
    """One plain Python script per submitted notebook: its code cells with the full tests."""
    source = {p.stem: nbformat.read(p, 4) for p in (root / "source" / workshop).glob("*.ipynb")}
    scripts = []
    for notebook in sorted(submitted(root).glob(f"*/{workshop}/*.ipynb")):
        tests = {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in source[notebook.stem].cells
            if c.metadata.get("nbgrader", {}).get("grade")
        }
        chunks = []
        for cell in nbformat.read(notebook, 4).cells:
            if cell.cell_type != "code":
                continue
            code = tests.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
            code = "\n".join(
                line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))
            )
            chunks.append(
                f"try:\n    exec(compile({code!r}, 'cell', 'exec'))\nexcept Exception:\n    pass\n"
                "_render()\n"
            )
        script = notebook.with_suffix(".py")
        script.write_text(RENDER.format(png=png) + "\n".join(chunks))
        scripts.append(script)
    return scripts


def run_floor(root: Path, workshops: list[str], workers: int, png: bool) -> float:
    scripts = [s for w in workshops for s in floor_scripts(root, w, png)]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(
            pool.map(
                lambda s: subprocess.run(
                    [sys.executable, s.name], cwd=s.parent, capture_output=True
                ),
                scripts,
            )
        )
    return time.perf_counter() - start


def scores(db: Path) -> dict[tuple[str, str], float | None]:
    with sqlite3.connect(db) as connection:
        return {(s, c): v for s, c, v in connection.execute(SCORES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--course",
        choices=tuple(BUILDERS),
        default="bundled",
        help="the bundled workshops, nbgrader's example course from ../shared/peers, or a "
        "data-science course made here (pandas, scikit-learn, PIL; also times workshop grade "
        "without preloading the sources' imports)",
    )
    parser.add_argument(
        "--workshop", action="append", help="bundled course: only these (default: every one)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as temp:
        base = Path(temp) / "base"
        workshops = BUILDERS[args.course](base, args.learners, args.workshop)
        names = ["nbgrader", "workshop", "workshop-text", "floor", "floor-text"]
        if args.course == "data-science":
            names.append("workshop-no-preload")
        copies = {name: Path(temp) / name for name in names}
        for folder in copies.values():
            shutil.copytree(base, folder, symlinks=True)
        if "workshop-no-preload" in copies:
            with (copies["workshop-no-preload"] / "nbgrader_config.py").open("a") as config:
                config.write("c.Workshop.preload_source_imports = False\n")
        notebooks = len(list(submitted(base).glob("*/*/*.ipynb")))
        print(
            f"{args.learners} learners x {len(workshops)} workshops = {notebooks} notebooks, "
            f"{args.workers} workers, {os.cpu_count()} CPUs",
            flush=True,
        )
        grade = [BIN / "workshop", "grade", *workshops, "--workers", args.workers, "--figures"]
        times = {
            "nbgrader": sum(
                run([BIN / "nbgrader", "autograde", w], copies["nbgrader"]) for w in workshops
            ),
            "workshop": run([*grade, "png"], copies["workshop"]),
            "workshop-text": run([*grade, "text"], copies["workshop-text"]),
            "floor": run_floor(copies["floor"], workshops, args.workers, png=True),
            "floor-text": run_floor(copies["floor-text"], workshops, args.workers, png=False),
        }
        if "workshop-no-preload" in copies:
            times["workshop-no-preload"] = run([*grade, "png"], copies["workshop-no-preload"])
        db = Path("var") / "gradebook.db" if args.course == "bundled" else Path("gradebook.db")
        theirs = scores(copies["nbgrader"] / db)
        ours = [n for n in copies if n.startswith("workshop")]
        same = all(scores(copies[n] / db) == theirs for n in ours)
    nbgrader = times["nbgrader"]
    print(f"nbgrader autograde           : {nbgrader:7.1f} s")
    for name, floor, label in (
        ("workshop", "floor", "workshop grade --figures png"),
        ("workshop-text", "floor-text", "workshop grade --figures text"),
    ):
        ours = times[name]
        print(
            f"{label:29s}: {ours:7.1f} s   {nbgrader / ours:5.1f}x faster than nbgrader, "
            f"{ours / times[floor]:.2f}x its floor ({times[floor]:.1f} s)"
        )
    if "workshop-no-preload" in times:
        ours = times["workshop-no-preload"]
        print(
            f"{'... without source preload':29s}: {ours:7.1f} s   {nbgrader / ours:5.1f}x faster "
            f"than nbgrader, {ours / times['floor']:.2f}x its floor"
        )
    print(f"identical scores             : {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
