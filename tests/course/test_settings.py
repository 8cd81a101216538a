from pathlib import Path

import nbfactory
import nbformat
import pytest

from course.errors import ConfigError, CourseNotFound
from course.settings import Workshop, grading_engine, load_settings


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


def course_with(tmp_path, *lines):
    (tmp_path / "nbgrader_config.py").write_text("\n".join(["c = get_config()", *lines, ""]))
    return load_settings(tmp_path)


def test_an_nbgrader_course_keeps_its_own_execute_timeout(tmp_path):
    settings = course_with(tmp_path, "c.Execute.timeout = 600")
    assert settings.cell_timeout_s == 600
    assert settings.notebook_timeout_s == 6000  # never shorter than the cells it holds


def test_without_any_setting_the_cell_limit_is_nbgraders(tmp_path):
    settings = course_with(tmp_path)
    assert (settings.cell_timeout_s, settings.notebook_timeout_s) == (30, 300)
    assert settings.interrupt_on_timeout


def test_our_cell_limit_wins_over_nbgraders(tmp_path):
    settings = course_with(tmp_path, "c.Execute.timeout = 600", "c.Workshop.cell_timeout_s = 5")
    assert settings.cell_timeout_s == 5


def test_no_execute_timeout_leaves_the_notebook_limit(tmp_path):
    settings = course_with(tmp_path, "c.Execute.timeout = None")
    assert settings.cell_timeout_s == settings.notebook_timeout_s == 300


def test_a_bad_execute_timeout_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match=r"nbgrader_config.py: Execute.timeout must be"):
        course_with(tmp_path, "c.Execute.timeout = -3")


def test_interrupt_on_timeout_is_read_from_nbgrader(tmp_path):
    assert not course_with(tmp_path, "c.Execute.interrupt_on_timeout = False").interrupt_on_timeout


def test_the_template_preloads_what_the_sources_import(tmp_path):
    nb = nbfactory.notebook(
        nbfactory.code(
            "%matplotlib inline\nimport json\nimport PIL.Image\nfrom numpy import linalg"
        ),
        nbfactory.code("import not_a_module_anywhere\nfrom . import sibling\nimport helper"),
    )
    (tmp_path / "source" / "ws").mkdir(parents=True)
    nbformat.write(nb, str(tmp_path / "source" / "ws" / "nb.ipynb"))
    (tmp_path / "source" / "ws" / "helper.py").write_text("X = 1\n")
    configured = course_with(tmp_path, "c.Workshop.preload_modules = ['numpy']")
    assert configured.preload_modules == ("numpy", "PIL.Image")
    assert grading_engine(tmp_path).preload_modules == ("numpy", "PIL.Image")
    off = course_with(tmp_path, "c.Workshop.preload_source_imports = False")
    assert off.preload_modules == ("numpy", "matplotlib.pyplot")
