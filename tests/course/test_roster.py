import pytest

from course.errors import RosterError
from course.roster import import_roster, list_roster, read_roster

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def roster(tmp_path, text):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    return path


def test_import_adds_then_updates_learners(settings, tmp_path):
    first = import_roster(
        settings, roster(tmp_path, "id,first_name,email\nada,Ada,ada@uni.ac\nbob,,\n")
    )
    assert first.added == ("ada", "bob") and first.updated == ()
    again = import_roster(settings, roster(tmp_path, "id,last_name\nada,Lovelace\n"))
    assert again.added == () and again.updated == ("ada",)
    ada, bob = list_roster(settings)
    assert (ada.id, ada.first_name, ada.last_name, ada.email) == (
        "ada",
        "Ada",
        "Lovelace",
        "ada@uni.ac",
    )
    assert bob.id == "bob" and bob.first_name is None


def test_every_bad_line_is_reported_and_nothing_is_written(settings, tmp_path):
    path = roster(
        tmp_path,
        "id,first_name\nada,Ada\n,Nobody\nada,Again\nbob,Bob,extra\n../etc,Evil\ncat,Cat\n",
    )
    with pytest.raises(RosterError) as error:
        import_roster(settings, path)
    lines = str(error.value).splitlines()
    assert lines == [
        f"{path}: line 3: empty id",
        f"{path}: line 4: duplicate id 'ada' (first on line 2)",
        f"{path}: line 5: 3 fields where the header has 2; check commas and quotes",
        f"{path}: line 6: invalid id '../etc': use letters, digits, '.', '_', '-' or '@', "
        "starting with a letter or digit",
    ]
    assert list_roster(settings) == ()


def test_values_the_gradebook_cannot_hold_are_refused_before_writing(settings, tmp_path):
    long_name = "x" * 129
    path = roster(tmp_path, f"id,first_name\nada,Ada\nbob,{long_name}\ncat,C\0t\n")
    with pytest.raises(RosterError) as error:
        import_roster(settings, path)
    assert str(error.value).splitlines() == [
        f"{path}: line 3: first_name of 'bob': at most 128 characters, none of them NUL",
        f"{path}: line 4: first_name of 'cat': at most 128 characters, none of them NUL",
    ]
    assert list_roster(settings) == ()
    fits = import_roster(settings, roster(tmp_path, f"id,first_name\nbob,{long_name[:128]}\n"))
    assert fits.added == ("bob",)
    assert list_roster(settings)[0].first_name == long_name[:128]


def test_header_problems_are_reported_on_line_one(tmp_path):
    with pytest.raises(RosterError, match=r"line 1: unknown column\(s\) 'name'"):
        read_roster(roster(tmp_path, "id,name\nada,Ada\n"))
    with pytest.raises(RosterError, match="line 1: no 'id' column"):
        read_roster(roster(tmp_path, "first_name\nAda\n"))
    with pytest.raises(RosterError, match="line 1: empty file"):
        read_roster(roster(tmp_path, ""))


def test_missing_roster_file_is_reported(tmp_path):
    with pytest.raises(RosterError, match="file not found"):
        read_roster(tmp_path / "nope.csv")
