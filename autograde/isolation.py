"""Operating-system isolation for one learner notebook: namespaces, hidden paths, limits, uid.

Linux namespaces need root (or user namespaces); where they are not available the sandbox still
applies resource limits and reports the missing isolation as a warning instead of failing.
Everything here runs in the forked processes of the template, never in the coordinator.
"""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Limits",
    "apply_limits",
    "die_with_parent",
    "drop_privileges",
    "enter_namespaces",
    "expose_paths",
    "hide_paths",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits; sizes in MiB, times in seconds."""

    cell_timeout_s: float
    notebook_timeout_s: float
    cpu_time_s: int
    memory_mb: int
    processes: int
    file_size_mb: int
    output_mb: int
    stop_on_timeout: bool = False
    """After a cell times out, run no further cell (nbgrader's `interrupt_on_timeout = False`)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def enter_namespaces() -> None:
    """New mount, network and PID namespaces (the PID one applies to the next child)."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID), "unshare")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")


def hide_paths(paths: Iterable[str]) -> list[str]:
    """Cover each existing folder with an empty read-only tmpfs; return those hidden."""
    hidden: list[Path] = []
    for path in sorted({Path(p) for p in paths}, key=lambda p: len(p.parts)):
        if any(path == h or h in path.parents for h in hidden) or not path.is_dir():
            continue
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV
        _check(_libc.mount(b"tmpfs", bytes(path), b"tmpfs", flags, b"size=4k"), f"hide {path}")
        hidden.append(path)
    return [str(h) for h in hidden]


def expose_paths(paths: Iterable[str], stash: str) -> list[str]:
    """Let an unprivileged uid reach *paths* whose ancestors are private (e.g. a Python in /root).

    In the current mount namespace, each private ancestor is covered by a world-traversable
    tmpfs into which only the needed child folders are bind-mounted back (parked in *stash*
    meanwhile). Nothing else of the private folder becomes visible. Returns the folders covered.
    """
    needed: dict[Path, set[str]] = {}
    for path in {Path(p).resolve() for p in paths if Path(p).exists()}:
        blocking = _private_ancestor(path)
        if blocking is not None:
            needed.setdefault(blocking, set()).add(path.relative_to(blocking).parts[0])
    for number, (folder, children) in enumerate(sorted(needed.items())):
        parked = []
        for index, child in enumerate(sorted(children)):
            place = Path(stash) / f"{number}-{index}"
            place.mkdir(parents=True, exist_ok=True)
            _bind(folder / child, place)
            parked.append((child, place))
        flags = MS_NOSUID | MS_NODEV
        _check(_libc.mount(b"tmpfs", bytes(folder), b"tmpfs", flags, b"mode=0755"), str(folder))
        for child, place in parked:
            (folder / child).mkdir(parents=True, exist_ok=True)
            _bind(place, folder / child)
    return [str(folder) for folder in sorted(needed)]


def _private_ancestor(path: Path) -> Path | None:
    for ancestor in reversed(path.parents[:-1]):
        if not ancestor.stat().st_mode & 0o001:
            return ancestor
    return None


def _bind(source: Path, target: Path) -> None:
    _check(_libc.mount(bytes(source), bytes(target), None, MS_BIND | MS_REC, None), str(target))


def drop_privileges(uid: int) -> None:
    """Become *uid* (group too, no supplementary groups); die with the parent; no setuid gain."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def die_with_parent(signal_number: int) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal_number, 0, 0, 0), "pdeathsig")


def apply_limits(limits: Limits) -> None:
    """Resource limits of the calling process (inherited by anything it starts)."""
    mib = 1024 * 1024
    for kind, value in (
        (resource.RLIMIT_CPU, limits.cpu_time_s),
        (resource.RLIMIT_AS, limits.memory_mb * mib),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * mib),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(kind, (value, value))
