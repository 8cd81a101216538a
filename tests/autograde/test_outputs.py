"""Every output IPython produces is recorded as a kernel records it, at any size, in linear time.

A displayed PIL image (raw bytes from IPython's formatter) once ended the learner's process and
scored every later cell 0; a long print took minutes. Both are graded here next to what
nbgrader's own kernel path would give: full marks for correct answers.
"""

import base64
import copy

import nbfactory as f
import nbformat
import pytest
from conftest import new_course, write_nb

from autograde.grade import grade_assignment
from course.release import release_workshop
from course.settings import load_settings

pytestmark = pytest.mark.kernel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

IMAGE_CELLS = {
    "last_expression": "from PIL import Image\nImage.fromarray(np.zeros((4, 4), dtype=np.uint8))",
    "display_call": "from PIL import Image\ndisplay(Image.new('RGB', (3, 3), 'red'))",
    "jpeg": (
        "from IPython.display import Image as Shown\nimport io\nfrom PIL import Image\n"
        "buffer = io.BytesIO()\nImage.new('RGB', (3, 3)).save(buffer, 'JPEG')\n"
        "Shown(data=buffer.getvalue(), format='jpeg')"
    ),
}


def image_notebook():
    return f.notebook(
        f.code("import numpy as np"),
        *(f.code(source) for source in IMAGE_CELLS.values()),
        f.code("for i in range(200_000):\n    print(i)"),
        f.solution(
            "double",
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        ),
        f.tests("double_tests", "assert double(2) == 4", points=3),
    )


ANSWERS = {
    "learner": "def double(x):\n    return x + x",
    # Metadata no kernel could send: the grader cannot record it, and says it was its own fault.
    "unsendable": (
        "display({'text/plain': 'x'}, metadata={'odd': object()}, raw=True)\n"
        "def double(x):\n    return x + x"
    ),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = new_course(tmp_path_factory.mktemp("outputs") / "course", None)
    write_nb(root / "source" / "ws" / "nb.ipynb", image_notebook())
    settings = load_settings(root)
    release_workshop(settings, "ws", {})
    released = nbformat.read(root / "release" / "ws" / "nb.ipynb", 4)
    for student, answer in ANSWERS.items():
        nb = copy.deepcopy(released)
        cell = next(
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double"
        )
        cell.source = answer
        write_nb(settings.submitted_dir / student / "ws" / "nb.ipynb", nb)
    report = grade_assignment(settings, "ws", workers=2, cell_timeout_s=30)
    graded_nb = nbformat.read(settings.autograded_dir / "learner" / "ws" / "nb.ipynb", 4)
    return {r.student: r for r in report.results}, graded_nb


def outputs_of(nb, start):
    return next(c for c in nb.cells if c.source.startswith(start)).outputs


def test_displayed_images_keep_the_learner_process_alive_and_earn_the_points(graded):
    results, _ = graded
    result = results["learner"]
    assert result.status == "graded", result.findings
    assert not result.findings
    assert result.score == 3


def test_an_output_the_grader_cannot_record_is_the_graders_failure(graded):
    results, _ = graded
    result = results["unsendable"]
    assert result.status == "failed"
    assert [f.code for f in result.findings] == ["sandbox-crashed"]
    assert "could not record" in result.findings[0].message


@pytest.mark.parametrize(
    ("cell", "mime", "magic"),
    [
        ("last_expression", "image/png", PNG_MAGIC),
        ("display_call", "image/png", PNG_MAGIC),
        ("jpeg", "image/jpeg", JPEG_MAGIC),
    ],
)
def test_binary_outputs_are_base64_as_a_kernel_sends_them(graded, cell, mime, magic):
    _, nb = graded
    (output,) = outputs_of(nb, IMAGE_CELLS[cell])
    assert output.output_type in ("execute_result", "display_data")
    assert base64.b64decode(output.data[mime]).startswith(magic)
    assert "text/plain" in output.data


def test_a_long_print_is_recorded_and_trimmed_as_nbgrader_trims_it(graded):
    _, nb = graded
    outputs = outputs_of(nb, "for i in range(200_000)")
    text = "".join(o.get("text", "") for o in outputs)
    assert text.startswith("0\n1\n2\n")
    assert "\n998\n" in text
    assert text.rstrip().endswith("Output truncated ...")  # nbgrader's LimitOutput: 1000 lines
    assert not any(o.output_type == "error" for o in outputs)
