"""Run a real `jupyter server` or `jupyter lab` for a test, and stop it cleanly afterwards."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ADDRESS = re.compile(r"http://127\.0\.0\.1:(\d+)/")


@contextmanager
def running_jupyter(
    args: Sequence[str],
    *,
    cwd: Path,
    home: Path,
    env: Mapping[str, str],
    ready: Callable[[str], bool],
) -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    """`jupyter ARGS...` on a free loopback port, with *env* and its config, data and runtime
    folders of its own in *home*; yields its URL, process and log lines once *ready(url)* holds
    (jupyter_server prints its address a moment before it listens)."""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), *args],
        cwd=cwd,
        env={
            **env,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            if ADDRESS.search(line):
                found.set()

    reader = threading.Thread(target=pump)
    reader.start()
    try:
        assert found.wait(90), "".join(log)[-3000:]
        port = next(m.group(1) for line in log if (m := ADDRESS.search(line)))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if ready(url):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield url, process, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
                process.wait()
            reader.join(timeout=10)
            assert process.stderr is not None
            process.stderr.close()
