"""`c.Workshop.figures`: figures as PNG (like nbgrader's kernels) or as text, same scores."""

import copy

import nbfactory as f
import nbformat
import pytest
from conftest import new_course, write_nb

from autograde.grade import grade_assignment
from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel

PLOT = "def plot(values):\n    fig, ax = plt.subplots()\n    ax.plot(values)\n    return fig"


def plotting_notebook():
    return f.notebook(
        f.code("import matplotlib.pyplot as plt"),
        f.solution(
            "plot",
            "def plot(values):\n    ### BEGIN SOLUTION\n    fig, ax = plt.subplots()\n"
            "    ax.plot(values)\n    return fig\n    ### END SOLUTION",
        ),
        f.code("plot([1, 3, 2])\nplt.show()"),
        f.tests(
            "plot_tests",
            "fig = plot([1, 2])\nassert len(fig.axes[0].lines) == 1, 'one line'\nplt.close(fig)",
        ),
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One course graded with each setting; learners `right` and `wrong`."""
    results = {}
    for figures in ("png", "text"):
        root = new_course(tmp_path_factory.mktemp(figures) / "course", None)
        with (root / "nbgrader_config.py").open("a") as config:
            config.write(f"\nc.Workshop.figures = {figures!r}\n")
        write_nb(root / "source" / "ws" / "nb.ipynb", plotting_notebook())
        settings = load_settings(root)
        release_workshop(settings, "ws", {})
        released = nbformat.read(root / "release" / "ws" / "nb.ipynb", 4)
        for student, source in (("right", PLOT), ("wrong", "def plot(values):\n    return 0")):
            nb = copy.deepcopy(released)
            next(
                c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "plot"
            ).source = source
            write_nb(settings.submitted_dir / student / "ws" / "nb.ipynb", nb)
        report = grade_assignment(settings, "ws", workers=2)
        results[figures] = settings, report
    return results


def shown_figure(settings, student):
    nb = nbformat.read(settings.autograded_dir / student / "ws" / "nb.ipynb", 4)
    cell = next(c for c in nb.cells if c.source.startswith("plot([1, 3, 2])"))
    return [o for o in cell.outputs if o.output_type == "display_data"]


def test_both_settings_give_the_same_scores(graded):
    scores = {
        figures: {r.student: r.score for r in report.results}
        for figures, (_, report) in graded.items()
    }
    assert scores["png"] == scores["text"] == {"right": 1, "wrong": 0}


def test_png_figures_are_rendered_like_nbgrader(graded):
    settings, _ = graded["png"]
    (output,) = shown_figure(settings, "right")
    assert output.data["image/png"]
    assert output.data["text/plain"].startswith("<Figure size")


def test_text_figures_keep_only_the_text_form(graded):
    settings, _ = graded["text"]
    (output,) = shown_figure(settings, "right")
    assert set(output.data) == {"text/plain"}
    assert output.data["text/plain"].startswith("<Figure size")
