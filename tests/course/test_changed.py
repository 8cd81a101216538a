"""`workshop validate --changed-since REF`: only what a pull request touched."""

import os
import shutil
import subprocess

import pytest
from conftest import run_cli

from course.errors import UsageError
from course.layout import changed_workshops
from course.settings import load_settings

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=GIT_ENV)


@pytest.fixture
def repo(course_dir):
    """The course with two workshops, `ws` and `other`, committed as `base`."""
    shutil.copytree(course_dir / "source" / "ws", course_dir / "source" / "other")
    git(course_dir, "init", "-q", "-b", "main")
    git(course_dir, "add", ".")
    git(course_dir, "commit", "-qm", "base")
    git(course_dir, "tag", "base")
    return course_dir


def test_only_the_workshops_changed_since_the_ref(repo):
    settings = load_settings(repo)
    assert changed_workshops(settings, "base") == []
    (repo / "source" / "other" / "data.csv").write_text("a\n1\n")  # new, untracked
    assert changed_workshops(settings, "base") == ["other"]
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "data")
    assert changed_workshops(settings, "base") == ["other"]
    assert changed_workshops(settings, "HEAD") == []


def test_a_config_change_means_every_workshop(repo):
    with (repo / "nbgrader_config.py").open("a") as config:
        config.write("\nc.Workshop.cell_timeout_s = 30\n")
    assert changed_workshops(load_settings(repo), "base") == ["other", "ws"]


def test_an_unknown_ref_is_a_usage_error(repo):
    with pytest.raises(UsageError, match="--changed-since nope: not a git revision"):
        changed_workshops(load_settings(repo), "nope")
    refused = run_cli("validate", "--changed-since", "nope", cwd=repo)
    assert refused.returncode == 2 and "not a git revision" in refused.stderr


def test_nothing_changed_validates_nothing_and_succeeds(repo):
    done = run_cli("validate", "--changed-since", "base", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "no workshop changed since base" in done.stdout
