"""Run a real `jupyter server` or `jupyter lab` for a test, and stop it cleanly afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

LAB_TOKEN = "lab-secret-token"
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


@contextmanager
def jupyter_lab(root: Path, home: Path) -> Iterator[str]:
    """`jupyter lab` serving *root* with its own settings: autosave off (so only Submit saves)
    and every cell kept in the page (no windowing, so a test can find every Check panel);
    yields its URL (the token is `LAB_TOKEN`)."""
    user_settings = home / "config" / "lab" / "user-settings" / "@jupyterlab"
    for plugin, values in (
        ("docmanager-extension/plugin", {"autosave": False}),
        ("notebook-extension/tracker", {"windowingMode": "none"}),
    ):
        path = user_settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    args = [
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--port=0",
        "--allow-root",
        f"--IdentityProvider.token={LAB_TOKEN}",
        f"--ServerApp.root_dir={root}",
    ]

    def answers(url: str) -> bool:
        with urlopen(f"{url}/api", timeout=10) as response:
            return bool(response.status == 200)

    with running_jupyter(args, cwd=root, home=home, env=env, ready=answers) as (url, _, log):
        try:
            yield url
        finally:
            print("".join(log)[-5000:])  # pytest shows it when the test failed
