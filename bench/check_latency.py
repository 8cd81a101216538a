"""How long a learner waits for Check, in a real kernel, on the bundled workshops.

For each bundled workshop and each session: copy the release, fill in the reference solutions,
start a python3 kernel in the copy (as JupyterLab does), run the notebook's cells in order and,
at each Check cell, press the Check button the way the browser does (a `click` comm message to
the button's widget model) --repeat times. Two figures per click:
  - in kernel: from the click message reaching the Check handler to the result being sent
    (the panel's own clock, `CheckPanel.durations_ms`);
  - round trip: from the client sending the click to the kernel going idle after it (ZeroMQ
    and the widget updates included; an upper bound of what the browser sees).
The first Check of every session (a fresh kernel) is reported on its own and included in the
overall figures. For comparison, the same notebook is checked with `nbgrader validate`, the
Check nbgrader offers (it re-runs the whole notebook in a new kernel).

    python bench/check_latency.py [--sessions 3] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def learner_copy(workshop: str, folder: Path) -> nbformat.NotebookNode:
    """The released workshop in *folder*, its solution cells holding the reference solutions."""
    shutil.copytree(REPO / "release" / workshop, folder)
    [source_path] = sorted((REPO / "source" / workshop).glob("*.ipynb"))
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(source_path, 4).cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    }
    nb = nbformat.read(folder / source_path.name, 4)
    for cell in nb.cells:
        key = cell.metadata.get("nbgrader", {}).get("grade_id")
        if key in solutions:
            cell.source = solutions[key]
    nbformat.write(nb, folder / source_path.name)
    return nb


class Session:
    """A kernel driven over ZeroMQ like a notebook front end."""

    def __init__(self, folder: Path) -> None:
        self.manager = KernelManager(
            kernel_name="python3", transport="ipc", ip=str(folder.parent / f".ipc-{folder.name}")
        )
        self.manager.connection_file = str(folder.parent / f".kernel-{folder.name}.json")
        self.manager.start_kernel(cwd=str(folder))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self, code: str) -> list[dict[str, Any]]:
        """Run *code*; return the iopub messages it caused."""
        messages: list[dict[str, Any]] = []
        self.client.execute_interactive(code, output_hook=messages.append, timeout=120)
        return messages

    def click(self, comm_id: str) -> float:
        """Press a button; return seconds until the kernel is idle again."""
        content = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}}
        start = time.perf_counter()
        message = self.client.session.msg("comm_msg", content)
        self.client.shell_channel.send(message)
        while True:
            reply = self.client.get_iopub_msg(timeout=30)
            if (
                reply["parent_header"].get("msg_id") == message["header"]["msg_id"]
                and reply["msg_type"] == "status"
                and reply["content"]["execution_state"] == "idle"
            ):
                return time.perf_counter() - start

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def check_button(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message["msg_type"] != "comm_open":
            continue
        state = message["content"]["data"].get("state", {})
        if state.get("_model_name") == "ButtonModel" and state.get("description") == "Check":
            return str(message["content"]["comm_id"])
    raise RuntimeError("the Check cell showed no Check button")


def one_session(workshop: str, folder: Path, repeat: int) -> tuple[list[float], list[float]]:
    nb = learner_copy(workshop, folder)
    session = Session(folder)
    round_trips: list[float] = []
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            messages = session.execute(cell.source)
            if "workshop-check" in cell.metadata.get("tags", []):
                button = check_button(messages)
                round_trips += [session.click(button) * 1000 for _ in range(repeat)]
        probe = (
            "import json; print(json.dumps([d for v in Out.values() "
            "if type(v).__name__ == 'CheckPanel' for d in v.durations_ms]))"
        )
        printed = [m for m in session.execute(probe) if m["msg_type"] == "stream"]
        in_kernel = json.loads(printed[-1]["content"]["text"])
    finally:
        session.close()
    return in_kernel, round_trips


def nbgrader_validate_s(workshop: str, folder: Path) -> float:
    [notebook] = sorted(folder.glob("*.ipynb"))
    start = time.perf_counter()
    subprocess.run(
        [BIN / "nbgrader", "validate", notebook.name], cwd=folder, capture_output=True, check=False
    )
    return time.perf_counter() - start


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3, help="fresh kernels per workshop")
    parser.add_argument("--repeat", type=int, default=20, help="clicks per Check button")
    args = parser.parse_args()
    workshops = sorted(p.name for p in (REPO / "release").iterdir() if p.is_dir())
    in_kernel: list[float] = []
    round_trips: list[float] = []
    firsts: list[tuple[float, float]] = []
    validate: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-check-") as temp:
        for workshop in workshops:
            for number in range(args.sessions):
                folder = Path(temp) / f"{workshop}-{number}"
                kernel_ms, trip_ms = one_session(workshop, folder, args.repeat)
                firsts.append((kernel_ms[0], trip_ms[0]))
                in_kernel += kernel_ms
                round_trips += trip_ms
            validate.append(nbgrader_validate_s(workshop, Path(temp) / f"{workshop}-0"))
    print(
        f"{len(workshops)} workshops x {args.sessions} sessions, {len(in_kernel)} Checks "
        f"({args.repeat} per exercise per session)"
    )
    for label, values in (("in kernel", in_kernel), ("round trip", round_trips)):
        print(
            f"{label:<11}: median {statistics.median(values):6.2f} ms   "
            f"p95 {percentile(values, 0.95):6.2f} ms   max {max(values):7.2f} ms"
        )
    print(
        "first Check of each session: in kernel "
        + ", ".join(f"{k:.1f}" for k, _ in firsts)
        + " ms; round trip "
        + ", ".join(f"{t:.1f}" for _, t in firsts)
        + " ms"
    )
    median_validate = statistics.median(validate)
    print(
        f"nbgrader validate (whole notebook): median {median_validate:.2f} s per check   "
        f"({median_validate * 1000 / statistics.median(round_trips):.0f}x the Check round trip)"
    )
    target = statistics.median(in_kernel) < 10 and percentile(in_kernel, 0.95) < 30
    print(f"target (median < 10 ms, p95 < 30 ms in kernel): {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
