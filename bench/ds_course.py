"""A course in the shape of a real data-science course, for grading benchmarks.

A plain nbgrader course (no nbworkshop settings): three assignments whose notebooks import
pandas, scikit-learn and PIL, read data files kept beside them, show data frames, figures and
images, and grade exercises with visible and hidden tests. Each learner's answers are drawn,
per exercise and with a seed, from a right, a partly right and a wrong answer, and every
submission carries the data files, as nbgrader's exchange hands them in.

    python bench/ds_course.py DIR [--learners 40]   # build it; grade_vs_nbgrader.py uses it
"""

from __future__ import annotations

import argparse
import copy
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

BIN = Path(sys.executable).parent
CONFIG = """c = get_config()
c.CourseDirectory.course_id = "ds-bench"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
"""


@dataclass(frozen=True)
class Exercise:
    grade_id: str
    solution: str
    visible: str
    hidden: str
    points: int
    answers: tuple[str, str]  # partly right, wrong (the solution is the right one)


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: int = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3}
    meta["solution"] = solution
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _notebook(setup: list[str], exercises: list[Exercise], shows: list[str]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNEL)
    cells = [nbformat.v4.new_code_cell(s) for s in setup]
    for index, exercise in enumerate(exercises):
        cells.append(nbformat.v4.new_markdown_cell(f"## Exercise {index + 1}"))
        cells.append(
            nbformat.v4.new_code_cell(
                f"### BEGIN SOLUTION\n{exercise.solution}\n### END SOLUTION",
                metadata=_meta(exercise.grade_id, grade=False, solution=True, locked=False),
            )
        )
        tests = (
            f"{exercise.visible}\n### BEGIN HIDDEN TESTS\n{exercise.hidden}\n### END HIDDEN TESTS"
        )
        cells.append(
            nbformat.v4.new_code_cell(
                tests,
                metadata=_meta(
                    f"{exercise.grade_id}_tests",
                    grade=True,
                    solution=False,
                    locked=True,
                    points=exercise.points,
                ),
            )
        )
        if index < len(shows):
            cells.append(nbformat.v4.new_code_cell(shows[index]))
    nb.cells = cells
    return nb


PENGUINS = [
    "import numpy as np\nimport pandas as pd",
    "frame = pd.read_csv('data/penguins.csv')\nframe.head()",
]
PENGUIN_EXERCISES = [
    Exercise(
        "mean_mass",
        "def mean_mass(frame):\n    return frame.groupby('species')['mass'].mean()",
        "result = mean_mass(frame)\nassert set(result.index) == set(frame.species)",
        "expected = frame.groupby('species').mass.mean()\n"
        "assert np.allclose(result.sort_index(), expected.sort_index())",
        3,
        (
            "def mean_mass(frame):\n    return frame.groupby('species')['mass'].median()",
            "def mean_mass(frame):\n    return frame['mass'].mean()",
        ),
    ),
    Exercise(
        "complete_rows",
        "def complete_rows(frame):\n    return frame.dropna()",
        "cleaned = complete_rows(frame)\nassert not cleaned.isna().any().any()",
        "assert len(cleaned) == len(frame.dropna())",
        2,
        (
            "def complete_rows(frame):\n    return frame.fillna(0)",
            "def complete_rows(frame):\n    return frame",
        ),
    ),
    Exercise(
        "heaviest",
        "def heaviest(frame, n):\n    return frame.nlargest(n, 'mass')",
        "top = heaviest(frame, 3)\nassert len(top) == 3",
        "assert list(top.mass) == sorted(frame.mass.dropna(), reverse=True)[:3]",
        2,
        (
            "def heaviest(frame, n):\n    return frame.sort_values('mass').head(n)",
            "def heaviest(frame, n):\n    return frame.head(n)",
        ),
    ),
]
PENGUIN_SHOWS = [
    "mean_mass(frame).to_frame()",
    "import matplotlib.pyplot as plt\nframe.plot.scatter('flipper', 'mass')\nplt.show()",
]

REGRESSION = [
    "import numpy as np\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression\n"
    "from sklearn.model_selection import train_test_split\nfrom sklearn.metrics import "
    "mean_squared_error",
    "houses = pd.read_csv('data/houses.csv')\nX, y = houses[['rooms', 'area']], houses['price']\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
]
REGRESSION_EXERCISES = [
    Exercise(
        "fit",
        "def fit(X, y):\n    return LinearRegression().fit(X, y)",
        "model = fit(X_train, y_train)\nassert hasattr(model, 'predict')",
        "assert model.score(X_test, y_test) > 0.9",
        3,
        (
            "def fit(X, y):\n    return LinearRegression(fit_intercept=False).fit(X[['rooms']], y)",
            "def fit(X, y):\n    return None",
        ),
    ),
    Exercise(
        "error",
        "def error(model, X, y):\n    return mean_squared_error(y, model.predict(X))",
        "reference = LinearRegression().fit(X_train, y_train)\n"
        "assert error(reference, X_test, y_test) >= 0",
        "assert np.isclose(error(reference, X_test, y_test), "
        "((reference.predict(X_test) - y_test) ** 2).mean())",
        2,
        (
            "def error(model, X, y):\n    return abs(y - model.predict(X)).mean()",
            "def error(model, X, y):\n    return -1",
        ),
    ),
]
REGRESSION_SHOWS = [
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
    "ax.scatter(X_test.area, y_test, s=4)\nplt.show()",
]

PIXELS = [
    "import numpy as np\nfrom PIL import Image",
    "picture = Image.open('data/picture.png')\npicture",
]
PIXEL_EXERCISES = [
    Exercise(
        "grey",
        "def grey(image):\n    return np.asarray(image.convert('L'), dtype=float)",
        "pixels = grey(picture)\nassert pixels.shape == picture.size[::-1]",
        "assert np.allclose(pixels, np.asarray(picture.convert('L'), dtype=float))",
        2,
        (
            "def grey(image):\n    return np.asarray(image, dtype=float).mean(axis=2)",
            "def grey(image):\n    return np.zeros(image.size)",
        ),
    ),
    Exercise(
        "mirror",
        "def mirror(image):\n    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)",
        "flipped = mirror(picture)\nassert flipped.size == picture.size",
        "assert np.array_equal(np.asarray(flipped)[:, ::-1], np.asarray(picture))",
        2,
        (
            "def mirror(image):\n    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)",
            "def mirror(image):\n    return image",
        ),
    ),
]
PIXEL_SHOWS = ["Image.fromarray(grey(picture).astype('uint8'))", "display(mirror(picture))"]

ASSIGNMENTS = {
    "penguins": ("analysis", PENGUINS, PENGUIN_EXERCISES, PENGUIN_SHOWS),
    "regression": ("houses", REGRESSION, REGRESSION_EXERCISES, REGRESSION_SHOWS),
    "pixels": ("images", PIXELS, PIXEL_EXERCISES, PIXEL_SHOWS),
}


def _data(folder: Path, assignment: str, rng: np.random.Generator) -> None:
    import pandas as pd
    from PIL import Image

    folder.mkdir(parents=True)
    if assignment == "penguins":
        n = 2000
        frame = pd.DataFrame(
            {
                "species": rng.choice(["Adelie", "Gentoo", "Chinstrap"], n),
                "mass": rng.normal(4200, 600, n).round(),
                "flipper": rng.normal(200, 14, n).round(),
            }
        )
        frame.loc[rng.choice(n, 40, replace=False), "mass"] = np.nan
        frame.to_csv(folder / "penguins.csv", index=False)
    elif assignment == "regression":
        n = 3000
        rooms, area = rng.integers(1, 8, n), rng.normal(90, 30, n)
        price = 20_000 * rooms + 1_500 * area + rng.normal(0, 5_000, n)
        pd.DataFrame({"rooms": rooms, "area": area, "price": price}).to_csv(
            folder / "houses.csv", index=False
        )
    else:
        pixels = rng.integers(0, 255, (160, 240, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "picture.png")


def build(root: Path, learners: int, seed: int = 7) -> list[str]:
    """Write the course into *root* (new), release it with nbgrader, submit for *learners*."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    for assignment, (name, setup, exercises, shows) in ASSIGNMENTS.items():
        folder = root / "source" / assignment
        _data(folder / "data", assignment, rng)
        nbformat.write(_notebook(setup, exercises, shows), str(folder / f"{name}.ipynb"))
        subprocess.run(
            [str(BIN / "nbgrader"), "generate_assignment", assignment, "--force"],
            cwd=root,
            check=True,
            capture_output=True,
        )
    picker = random.Random(seed)
    for learner in range(learners):
        for assignment, (name, _, exercises, _) in ASSIGNMENTS.items():
            released = root / "release" / assignment
            target = root / "submitted" / f"learner{learner:03d}" / assignment
            shutil.copytree(released, target)
            nb = nbformat.read(target / f"{name}.ipynb", 4)
            answers = {e.grade_id: picker.choice((e.solution, *e.answers)) for e in exercises}
            for cell in nb.cells:
                key = cell.metadata.get("nbgrader", {}).get("grade_id")
                if key in answers:
                    cell.source = copy.copy(answers[key])
            nbformat.write(nb, str(target / f"{name}.ipynb"))
            (target / "timestamp.txt").write_text("2026-12-01 18:00:00.000000 UTC")
    return list(ASSIGNMENTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--learners", type=int, default=40)
    args = parser.parse_args()
    print(", ".join(build(args.folder, args.learners)), "in", args.folder)


if __name__ == "__main__":
    main()
