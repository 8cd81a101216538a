"""Grading through a real Dask cluster on loopback (a scheduler and two worker processes):
the local pool's scores, each submission persisted once even when a worker is killed
half-way, a task failing on a worker recorded per notebook, an unreachable scheduler refused."""

import contextlib
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import run_cli
from distributed import Client

from autograde.cluster import ClusterLost, DaskSandbox
from autograde.grade import grade_assignment
from course.gradebook import open_gradebook
from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel

DASK = Path(sys.executable).parent / "dask"
CORRECT = "def square(x):\n    return x * x"
ANSWERS = {
    "ada": CORRECT,
    "bob": "def square(x):\n    return x + x",
    "cy": "def square(x):\n    raise ValueError('not sure yet')",
    "dee": "def square(x):\n    return x * x * int(open('factor.txt').read())",
    "eve": "import os\nos._exit(3)",
}


@dataclass(frozen=True)
class LoopbackCluster:
    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen]  # by worker name


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    """`dask scheduler` and two `dask worker --nthreads 1` processes on 127.0.0.1, random ports;
    the workers share one temporary folder, as workers of one machine share /tmp (outside
    pytest's private folder, so the sandbox's unprivileged learners can enter their own)."""
    folder = tmp_path / "dask"
    folder.mkdir()
    shared_tmp = Path(tempfile.mkdtemp(prefix="test-cluster-"))
    shared_tmp.chmod(0o711)
    env = {**os.environ, "TMPDIR": str(shared_tmp)}
    processes: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = (folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(DASK), *args],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        processes.append(process)
        return process

    scheduler_file = folder / "scheduler.json"
    try:
        scheduler = start(
            "scheduler",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
        )
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        workers = {
            name: start(
                name,
                "worker",
                address,
                "--name",
                name,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--local-directory",
                str(folder),
            )
            for name in ("w0", "w1")
        }
        with Client(address, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
        yield LoopbackCluster(address, scheduler, workers)
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for process in processes:  # what a killed worker left behind: its sandbox template
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(shared_tmp)


def submit(settings, answers: dict[str, str]) -> None:
    released = nbformat.read(settings.release_dir / "ws" / "nb.ipynb", 4)
    for student, answer in answers.items():
        nb = copy.deepcopy(released)
        cell = next(
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "square"
        )
        cell.source = answer
        folder = settings.submitted_dir / student / "ws"
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / "nb.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")


def auto_scores(settings) -> dict[tuple[str, str], float | None]:
    with open_gradebook(settings) as gradebook:
        return {
            (submission.student_id, grade.name): grade.auto_score
            for submission in gradebook.find_assignment("ws").submissions
            for notebook in submission.notebooks
            for grade in notebook.grades
        }


def our_plugins(address: str) -> list[str]:
    """nbworkshop's worker plugins the scheduler hands to every worker."""
    with Client(address, set_as_default=False) as client:
        names = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.worker_plugins))
    return [name for name in names if name.startswith("nbworkshop-")]


def use_cluster(course_dir: Path, address: str):
    with (course_dir / "nbgrader_config.py").open("a") as config:
        config.write(f"c.Workshop.dask_scheduler = {address!r}\n")
    return load_settings(course_dir)


def test_cluster_grades_a_course_as_the_local_pool_does(settings, cluster):
    (settings.source_dir / "ws" / "factor.txt").write_text("1")
    release_workshop(settings, "ws", {})
    submit(settings, ANSWERS)
    (settings.submitted_dir / "fay" / "ws").mkdir(parents=True)
    (settings.submitted_dir / "fay" / "ws" / "nb.ipynb").write_text("{not json")
    local = grade_assignment(settings, "ws", workers=2)
    local_scores = auto_scores(settings)
    assert local_scores[("ada", "square_tests")] == local_scores[("dee", "square_tests")] == 2.0
    assert our_plugins(cluster.address) == []

    graded = run_cli(
        "grade",
        "ws",
        "--cluster",
        cluster.address,
        "--force",
        "--report",
        "report.json",
        cwd=settings.root,
    )

    assert graded.returncode == 1, graded.stderr  # fay's notebook is not a notebook
    assert "Traceback" not in graded.stderr
    assert len(our_plugins(cluster.address)) == 1
    assert auto_scores(settings) == local_scores
    report = json.loads((settings.root / "report.json").read_text())
    assert [
        (s["student"], s["status"], s["score"], sorted(p["code"] for p in s["problems"]))
        for s in report["submissions"]
    ] == [(r.student, r.status, r.score, sorted(f.code for f in r.findings)) for r in local.results]
    assert {s["student"]: s["status"] for s in report["submissions"]} == {
        **dict.fromkeys(ANSWERS, "graded"),
        "fay": "failed",
    }


def test_worker_killed_half_way_still_grades_every_submission_once(course_dir, cluster):
    settings = use_cluster(course_dir, cluster.address)
    release_workshop(settings, "ws", {})
    students = [f"learner{i:02d}" for i in range(10)]
    submit(settings, dict.fromkeys(students, f"import time\ntime.sleep(1)\n{CORRECT}"))
    heard: list[str] = []
    killed: list[list[str]] = []

    def kill_a_busy_worker(result) -> None:
        heard.append(result.student)
        if len(heard) != 2:
            return
        with Client(cluster.address, set_as_default=False) as client:
            processing = client.processing()
            workers = client.scheduler_info()["workers"]
        address = next(a for a, keys in processing.items() if keys)
        killed.append(processing[address])
        os.kill(cluster.workers[workers[address]["name"]].pid, signal.SIGKILL)

    report = grade_assignment(settings, "ws", on_result=kill_a_busy_worker)

    assert killed and killed[0], "the killed worker was running nothing"
    assert sorted(heard) == students
    assert [(r.student, r.status, r.score) for r in report.results] == [
        (s, "graded", 2.0) for s in students
    ]
    with open_gradebook(settings) as gradebook:
        submissions = gradebook.find_assignment("ws").submissions
        assert sorted(s.student_id for s in submissions) == students
        for submission in submissions:
            assert submission.code_score == 2.0
            assert sorted(g.name for g in submission.notebooks[0].grades) == [
                "reflection",
                "square_tests",
            ]


@pytest.mark.skipif(os.geteuid() != 0, reason="learners get uids of their own only under root")
def test_learners_graded_at_once_on_one_machine_never_share_a_uid(course_dir, cluster):
    settings = use_cluster(course_dir, cluster.address)
    release_workshop(settings, "ws", {})
    students = [f"learner{i:02d}" for i in range(6)]
    answer = f"import os, time\nprint(os.getuid())\ntime.sleep(0.5)\n{CORRECT}"
    submit(settings, dict.fromkeys(students, answer))

    grade_assignment(settings, "ws")

    uids = set()
    for student in students:
        nb = nbformat.read(settings.autograded_dir / student / "ws" / "nb.ipynb", 4)
        cell = next(c for c in nb.cells if "getuid" in c.source)
        uids.add(int(cell.outputs[0].text))
    assert len(uids) == 2 and min(uids) >= 61000  # one per worker, each its own


def test_task_failing_on_a_worker_fails_that_notebook_and_a_rerun_grades_it(course_dir, cluster):
    settings = use_cluster(course_dir, cluster.address)
    release_workshop(settings, "ws", {})
    submit(settings, {"ada": CORRECT, "bob": CORRECT})
    with DaskSandbox(cluster.address, preload=settings.preload_modules) as sandbox:
        with Client(cluster.address, set_as_default=False) as client:
            client.unregister_worker_plugin(sandbox.plugin.name)  # tasks find no sandbox
        failed = grade_assignment(settings, "ws", sandbox=sandbox)

    assert [(r.status, [f.code for f in r.findings]) for r in failed.results] == [
        ("failed", ["sandbox-crashed"])
    ] * 2
    assert "the Dask task failed" in failed.results[0].findings[0].message
    rerun = grade_assignment(settings, "ws")
    assert [(r.student, r.status, r.score) for r in rerun.results] == [
        ("ada", "graded", 2.0),
        ("bob", "graded", 2.0),
    ]


def test_scheduler_lost_mid_batch_stops_it_keeping_what_was_graded(course_dir, cluster):
    settings = use_cluster(course_dir, cluster.address)
    release_workshop(settings, "ws", {})
    students = [f"learner{i:02d}" for i in range(8)]
    submit(settings, dict.fromkeys(students, f"import time\ntime.sleep(1)\n{CORRECT}"))
    heard: list[str] = []

    def kill_the_scheduler(result) -> None:
        heard.append(result.student)
        if len(heard) == 2:
            cluster.scheduler.kill()

    with pytest.raises(ClusterLost, match=f"lost the Dask scheduler at {cluster.address}"):
        grade_assignment(settings, "ws", on_result=kill_the_scheduler)

    with open_gradebook(settings) as gradebook:
        submissions = gradebook.find_assignment("ws").submissions
        assert sorted(s.student_id for s in submissions) == sorted(heard)
        assert all(s.code_score == 2.0 for s in submissions)
    assert 2 <= len(heard) < len(students)


def test_unreachable_scheduler_is_one_line_and_exit_2(course_dir, monkeypatch):
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    malformed = "tcp://127.0.0.1"
    from_option = run_cli("grade", "ws", "--cluster", address, cwd=course_dir)
    without_port = run_cli("grade", "ws", "--cluster", malformed, cwd=course_dir)
    use_cluster(course_dir, address)
    from_config = run_cli("grade", "ws", cwd=course_dir)

    for result, named in (
        (from_option, address),
        (without_port, malformed),
        (from_config, address),
    ):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert named in result.stderr and "dask scheduler" in result.stderr
