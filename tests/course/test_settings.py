from pathlib import Path

import pytest

from course.errors import ConfigError, CourseNotFound
from course.settings import Workshop, load_settings


def test_settings_resolve_the_repository_config_relative_to_the_course(settings, course_dir):
    assert settings.root == course_dir
    assert settings.source_dir == course_dir / "source"
    assert settings.submitted_dir == course_dir / "var" / "submitted"
    assert settings.db_url == f"sqlite:///{course_dir / 'var' / 'gradebook.db'}"
    assert settings.cell_timeout_s == 60


def test_peer_style_config_with_relative_sqlite_is_anchored_at_the_course(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.db_url = "sqlite:///gradebook.db"\n'
        "c.Workshop.cell_timeout_s = 5\n"
    )
    settings = load_settings(tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert settings.release_dir == tmp_path / "release"
    assert settings.cell_timeout_s == 5


def test_missing_config_says_where_it_looked(tmp_path):
    with pytest.raises(CourseNotFound, match=r"no nbgrader_config\.py here; .* --course DIR"):
        load_settings(tmp_path)


def test_broken_config_is_reported_with_its_path(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config(\n")
    with pytest.raises(ConfigError, match=r"nbgrader_config.py: cannot load"):
        load_settings(tmp_path)


def test_every_workshop_setting_is_documented():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for name in Workshop.class_trait_names(config=True):
        assert f"c.Workshop.{name}" in docs, name
