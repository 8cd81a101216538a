"""Grading at scale: the local pool against a local Dask cluster of the same size, same run.

Builds one course with N simulated learners' submissions of one bundled workshop
(`simulate.py`'s cohort), copies it once per grading and measures, in the same run:
  - local:    `workshop grade WS --workers W`: W sandbox lanes on this machine;
  - cluster:  `workshop grade WS --cluster ADDR` against a Dask scheduler and W worker
              processes of one thread each on loopback, started before the clock starts
              (a cluster already running, as in production).
Both gradings start cold (the cluster's sandboxes start with the first `workshop grade` that
uses it) and write the same SQLite gradebook. Prints wall time, throughput and the cluster
path's overhead over the local pool, and the coordinator's own CPU time on the cluster path
(what bounds how many workers one `workshop grade` can keep busy); checks both gave identical
scores.

    python bench/grade_scale.py [--learners 600] [--workers 2] [--workshop python-numpy-warmup]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from distributed import LocalCluster

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grade_vs_nbgrader import BIN, build_course, run, scores

TARGET_OVERHEAD = 0.15


def children_cpu_s() -> float:
    """CPU time of this process's finished children: the `workshop grade` runs, not the Dask
    workers, which are still running while it is read."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2, help="lanes, and cluster workers")
    parser.add_argument("--workshop", default="python-numpy-warmup")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as temp:
        base = Path(temp) / "base"
        build_course(base, args.learners, [args.workshop])
        notebooks = len(list((base / "var" / "submitted").glob(f"*/{args.workshop}/*.ipynb")))
        print(
            f"{args.learners} learners x {args.workshop} = {notebooks} notebooks; "
            f"{args.workers} local lanes vs {args.workers} Dask workers x 1 thread; "
            f"{os.cpu_count()} CPUs"
        )
        local, cluster = Path(temp) / "local", Path(temp) / "cluster"
        for folder in (local, cluster):
            shutil.copytree(base, folder, symlinks=True)
        grade = [BIN / "workshop", "grade", args.workshop]
        local_s = run([*grade, "--workers", args.workers], local)
        with LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as dask_cluster:
            before = children_cpu_s()
            cluster_s = run([*grade, "--cluster", dask_cluster.scheduler_address], cluster)
            coordinator_cpu_s = children_cpu_s() - before
        db = Path("var") / "gradebook.db"
        same = scores(local / db) == scores(cluster / db)
    overhead = cluster_s / local_s - 1
    for name, seconds in (("local pool", local_s), ("dask cluster", cluster_s)):
        print(f"{name:13}: {seconds:7.1f} s   {notebooks / seconds:6.2f} notebooks/s")
    verdict = "within" if overhead < TARGET_OVERHEAD else "over"
    print(f"overhead     : {overhead:+7.1%}   ({verdict} the {TARGET_OVERHEAD:.0%} target)")
    print(
        f"coordinator  : {coordinator_cpu_s:7.1f} s CPU, "
        f"{1000 * coordinator_cpu_s / notebooks:.0f} ms per notebook "
        f"(one coordinator keeps up with about {notebooks / coordinator_cpu_s:.0f} notebooks/s)"
    )
    print(f"identical scores: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
