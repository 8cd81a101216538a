"""The one exception hierarchy of nbworkshop.

    WorkshopError            anything a user can fix; the CLI prints str(error) and exits 1
    ├── UsageError           the command was given a bad name or value; exit 2, as argparse
    ├── CourseNotFound       no nbgrader_config.py where the course should be
    ├── ConfigError          nbgrader_config.py cannot be loaded or holds a bad value
    ├── UnknownWorkshop      no folder source/<workshop>
    ├── NotebookError        a notebook file cannot be read as a notebook
    ├── ParameterError       -p NAME=VALUE names an undeclared parameter or cannot be parsed
    ├── ReleaseRefused       release would change a workshop that already has submissions
    ├── RosterError          a roster file has bad rows (all of them listed)
    ├── ProblemsFound        validation or a pre-release check found problems (all of them listed)
    ├── ServeError           `workshop serve` cannot start (address in use, bad host, ...)
    ├── RequestRejected      a session-board request is refused; carries its HTTP status
    ├── ClusterUnreachable   no Dask scheduler answers at --cluster (autograde.executor; exit 2)
    └── ClusterLost          the Dask scheduler went away mid-batch (autograde.cluster)

Every message names the file, cell or line at fault and says what to do.
"""

from __future__ import annotations

from course.problems import Problem

__all__ = [
    "ConfigError",
    "CourseNotFound",
    "NotebookError",
    "ParameterError",
    "ProblemsFound",
    "ReleaseRefused",
    "RequestRejected",
    "RosterError",
    "ServeError",
    "UnknownWorkshop",
    "UsageError",
    "WorkshopError",
]


class WorkshopError(Exception):
    """An error the user can act on; its message is the whole report."""

    exit_code = 1


class UsageError(WorkshopError):
    """A command line the command cannot take (a bad workshop name, say), found after parsing."""

    exit_code = 2


class CourseNotFound(WorkshopError):
    pass


class ConfigError(WorkshopError):
    pass


class UnknownWorkshop(WorkshopError):
    pass


class NotebookError(WorkshopError):
    pass


class ParameterError(WorkshopError):
    pass


class ReleaseRefused(WorkshopError):
    pass


class RosterError(WorkshopError):
    pass


class ProblemsFound(WorkshopError):
    """Several independent problems, reported one per line."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ServeError(WorkshopError):
    pass


class RequestRejected(WorkshopError):
    """A board request the server refuses: *status* is the HTTP status (400, 401, 403, 404, 411,
    413, 429, 503); the message names the field or header at fault and is sent as
    `{"error": message}`."""

    def __init__(self, status: int, message: str, *, retry_after_s: int | None = None) -> None:
        self.status = status
        self.retry_after_s = retry_after_s
        """Sent as `Retry-After` (429, 503): when trying again may succeed."""
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable with its status, so a worker process can refuse a submission."""
        return (_request_rejected, (self.status, str(self), self.retry_after_s))


def _request_rejected(status: int, message: str, retry_after_s: int | None) -> RequestRejected:
    return RequestRejected(status, message, retry_after_s=retry_after_s)
