"""The live session board: a jupyter_server extension that takes learners' Check events and
shows organisers the room (who passed, who is stuck where) as pages with JSON twins.

Enable it inside any Jupyter server with
`jupyter server --ServerApp.jpserver_extensions="{'extensions.board': True}"`, or run it on its
own with `workshop serve`. This module stays import-light: jupyter_server, tornado and
SQLAlchemy load only when the server asks for the extension point.
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """jupyter_server's hook: the extension app lives in `extensions.board.app`."""
    from extensions.board.app import BoardApp

    return [{"module": "extensions.board.app", "app": BoardApp}]
