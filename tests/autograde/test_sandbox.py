"""The sandbox keeps every notebook's results its own, whatever a learner does to its pipe."""

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
