"""Files submitted beside the notebooks that the release does not have (`extra-file`); the
ones that would shadow a module are `stage_files`' to flag, not reported twice."""

from autograde.inspect_files import MAX_ENTRIES, inspect_files


def make(folder, *paths):
    for path in paths:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text("x = 1\n")
    return folder


def by_code(findings):
    return {f.code: f.message for f in findings}


def test_release_files_notebooks_and_jupyter_folders_are_not_reported(tmp_path):
    release = make(tmp_path / "release", "nb.ipynb", "helpers.py", "data/points.csv")
    submitted = make(
        tmp_path / "submitted",
        "nb.ipynb",
        "timestamp.txt",
        "helpers.py",
        "data/points.csv",
        ".ipynb_checkpoints/nb-checkpoint.ipynb",
        "__pycache__/helpers.cpython-311.pyc",
        ".workshop/checks.json",
    )
    assert inspect_files(submitted, release) == []


def test_extra_files_are_listed_but_shadowing_modules_are_left_to_staging(tmp_path):
    submitted = make(
        tmp_path / "submitted", "numpy.py", "random.py", "json/__init__.py", "mylib.py", "a/b.txt"
    )
    found = by_code(inspect_files(submitted, tmp_path / "no-release"))
    assert set(found) == {"extra-file"}
    assert "mylib.py" in found["extra-file"] and "a/b.txt" in found["extra-file"]
    for name in ("numpy", "random", "json"):
        assert name not in found["extra-file"]


def test_links_are_listed_not_followed(tmp_path):
    outside = make(tmp_path / "outside", "secret.py")
    submitted = make(tmp_path / "submitted", "nb.ipynb")
    (submitted / "link").symlink_to(outside, target_is_directory=True)
    found = by_code(inspect_files(submitted, tmp_path / "no-release"))
    assert found == {"extra-file": "link"}


def test_a_huge_folder_is_read_only_so_far(tmp_path):
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    for index in range(MAX_ENTRIES + 50):
        (submitted / f"f{index}.txt").touch()
    [finding] = inspect_files(submitted, tmp_path / "no-release")
    assert finding.code == "extra-file" and "not read to the end" in finding.message
    assert f"and {MAX_ENTRIES - 10} more" in finding.message
