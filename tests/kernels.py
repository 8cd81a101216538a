"""A real Jupyter kernel driven the way JupyterLab drives it, for the learner-side tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager


class LearnerKernel:
    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, code: str, *, allow_errors: bool = False) -> str:
        """Execute *code*; return what it printed. Errors raise unless *allow_errors*."""
        printed: list[str] = []
        errors: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")

        reply = self.client.execute_interactive(code, output_hook=hook, timeout=60)
        if reply["content"]["status"] != "ok" and not allow_errors:
            raise AssertionError(f"{code!r} failed in the kernel: {errors}")
        return "".join(printed)

    def json(self, expression: str) -> Any:
        return json.loads(self.run(f"import json as _j; print(_j.dumps({expression}))"))


@contextmanager
def learner_kernel(folder: Path) -> Iterator[LearnerKernel]:
    """A python3 kernel started in *folder*, as JupyterLab starts one beside the notebook."""
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    manager = KernelManager(
        kernel_name="python3", transport="ipc", ip=str(folder.parent / f".ipc-{folder.name}")
    )
    manager.connection_file = str(folder.parent / f".kernel-{folder.name}.json")
    manager.start_kernel(cwd=str(folder), env=env)
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        yield LearnerKernel(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
