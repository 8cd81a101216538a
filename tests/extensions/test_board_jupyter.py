"""The board inside a real `jupyter server` (enabled as `extensions.board`): its routes do their
own bearer-token authentication while Jupyter's own API stays behind Jupyter's token.

This pins how jupyter_server treats extension handlers marked `allow_unauthenticated`: reachable
without Jupyter's login, no XSRF check on POST, and no warning about undecorated endpoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.request import urlopen

import pytest
from board_server import WORKSHOP, BoardServer, build_course, event
from jupyter_process import running_jupyter

pytestmark = pytest.mark.server

JUPYTER_TOKEN = "jupyter-secret-token"


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BoardServer, list[str]]]:
    home = tmp_path_factory.mktemp("jupyter")
    course = home / "course"
    tokens = build_course(course, [{"id": "alice"}])
    args = [
        "server",
        "--ServerApp.jpserver_extensions={'extensions.board': True}",
        "--ServerApp.port=0",
        f"--IdentityProvider.token={JUPYTER_TOKEN}",
        "--ServerApp.open_browser=False",
        "--allow-root",
        f"--ServerApp.root_dir={course}",
        "--BoardApp.max_body_bytes=2000",
    ]

    def healthy(url: str) -> bool:
        with urlopen(f"{url}/workshop/api/health", timeout=10) as response:
            return bool(response.status == 200)

    with running_jupyter(args, cwd=course, home=home, env=os.environ, ready=healthy) as (
        url,
        process,
        log,
    ):
        yield BoardServer(url, course, tokens, process), log


def test_board_routes_need_no_jupyter_login(jupyter):
    server, _ = jupyter
    assert server.request("GET", "/workshop/api/health").json() == {"status": "ok"}
    page = server.request("GET", f"/workshop/board/{WORKSHOP}")
    assert page.status == 200 and "text/html" in page.headers["content-type"]


def test_events_are_accepted_with_the_board_token_and_no_xsrf_cookie(jupyter):
    server, _ = jupyter
    response = server.post_events(server.tokens["alice"], event("alice"))
    assert response.status == 200, response.body
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert server.post_events("wrong", event("alice")).status == 401


def test_the_board_reads_the_course_of_the_servers_root_dir(jupyter):
    server, _ = jupyter
    view = server.request(
        "GET", f"/workshop/api/board/{WORKSHOP}", token=server.tokens["organiser"]
    ).json()
    assert [learner["id"] for learner in view["learners"]] == ["alice"]


def test_jupyters_own_api_still_needs_jupyters_token(jupyter):
    server, _ = jupyter
    assert server.request("GET", "/api/status").status == 403
    board_token = {"Authorization": f"token {server.tokens['organiser']}"}
    assert server.request("GET", "/api/status", headers=board_token).status == 403
    jupyter_token = {"Authorization": f"token {JUPYTER_TOKEN}"}
    assert server.request("GET", "/api/status", headers=jupyter_token).status == 200


def test_jupyter_server_loads_the_extension_without_auth_warnings(jupyter):
    _, log = jupyter
    text = "".join(log)
    assert "extensions.board | extension was successfully loaded" in text
    assert "without @allow_unauthenticated" not in text


def test_board_settings_come_from_jupyters_config(jupyter):
    server, _ = jupyter
    padded = {"events": [event("alice")], "padding": "x" * 2000}
    response = server.request(
        "POST", "/workshop/api/events", token=server.tokens["alice"], body=padded
    )
    assert response.status == 413
    assert "2000" in response.json()["error"]


def test_the_join_copy_names_the_address_the_learner_used(jupyter):
    import io
    import json
    import zipfile

    server, _ = jupyter
    response = server.request("GET", f"/workshop/api/join/{WORKSHOP}", token=server.tokens["alice"])
    archive = zipfile.ZipFile(io.BytesIO(response.body))
    learner = json.loads(archive.read(f"{WORKSHOP}/.workshop/learner.json"))
    assert learner["board"] == server.url
