"""The sandbox keeps every notebook's results its own, whatever a learner does to its pipe."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autograde.isolation import Limits
from autograde.sandbox import CellSpec, NotebookJob, Sandbox

pytestmark = pytest.mark.kernel

LIMITS = Limits(
    cell_timeout_s=20,
    notebook_timeout_s=30,
    cpu_time_s=30,
    memory_mb=2048,
    processes=64,
    file_size_mb=10,
    output_mb=10,
)
CLOSE_EVERYTHING = "import os, time\nos.closerange(3, 4096)\ntime.sleep(4)"


def job(sandbox, job_id, *sources):
    cells = tuple(CellSpec(i, source, False) for i, source in enumerate(sources))
    return NotebookJob(job_id, sandbox.workdir(job_id), cells)


def printed(run):
    return [
        "".join(o.get("text", "") for o in run.cells[i]["outputs"]).strip()
        for i in sorted(run.cells)
    ]


def test_a_learner_closing_its_pipe_costs_no_one_else():
    with Sandbox(preload=[], workers=2) as sandbox:
        jobs = [job(sandbox, "attacker", CLOSE_EVERYTHING, "print('attacker')")]
        jobs += [
            job(sandbox, f"honest{i}", f"print('honest{i} first')", f"print('honest{i} second')")
            for i in range(8)
        ]
        runs = {run.id: run for run in sandbox.run(jobs, limits=LIMITS, hidden_paths=[])}
    assert set(runs) == {j.id for j in jobs}
    for i in range(8):
        run = runs[f"honest{i}"]
        assert run.completed and not run.notes, run
        assert printed(run) == [f"honest{i} first", f"honest{i} second"]
    attacker = runs["attacker"]
    assert not attacker.completed
    assert all("honest" not in text for text in printed(attacker))


FORGE = (
    "import json, os\n"
    "for fd in range(3, 64):\n"
    "    try:\n"
    "        os.write(fd, json.dumps({'job': 'guessed', 'index': 1, 'outputs': []}).encode() + b'\\n')\n"
    "    except OSError:\n"
    "        pass"
)


def test_a_message_not_tagged_with_its_own_job_discards_only_that_run():
    with Sandbox(preload=[], workers=2) as sandbox:
        jobs = [job(sandbox, "forger", FORGE, "print('forger')")]
        jobs += [job(sandbox, f"honest{i}", f"print('honest{i}')") for i in range(3)]
        runs = {run.id: run for run in sandbox.run(jobs, limits=LIMITS, hidden_paths=[])}
    assert runs["forger"].cells == {} and not runs["forger"].completed
    assert runs["forger"].exit_code < 0 and runs["forger"].notes
    for i in range(3):
        assert printed(runs[f"honest{i}"]) == [f"honest{i}"]


ORPHAN = (
    "import os, time\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    time.sleep(600)\n"
    "    os._exit(0)\n"
    "print(pid)"
)
WITHOUT_NAMESPACES = """
import json, sys
from autograde.sandbox import Sandbox
sys.path.insert(0, sys.argv[1])
from test_sandbox import LIMITS, ORPHAN, job

with Sandbox(preload=[], workers=1) as sandbox:
    runs = list(sandbox.run([job(sandbox, "orphan", ORPHAN, "print('next')")], limits=LIMITS, hidden_paths=[]))
    print(json.dumps({"isolation": sandbox.isolation, "cells": {i: c["outputs"] for i, c in runs[0].cells.items()}}))
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)
def test_a_process_left_holding_the_pipe_does_not_keep_the_run_waiting():
    """Without PID namespaces (here: root without CAP_SYS_ADMIN) a learner's child outlives it."""
    done = subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-sys_admin",
            "--",
            sys.executable,
            "-c",
            WITHOUT_NAMESPACES,
            str(Path(__file__).parent),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    orphan = int(result["cells"]["0"][0]["text"])
    try:
        assert result["isolation"]["namespaces"] is False
        assert result["cells"]["1"][0]["text"] == "next\n"
    finally:
        os.kill(orphan, signal.SIGKILL)
