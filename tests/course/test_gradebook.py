"""The course gradebook on SQLite and PostgreSQL: created complete, stamped, and safe to open
for the first time from several places at once."""

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from course.gradebook import alembic_head, create_tables, open_gradebook, prepare_database

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def scalars(settings, query: str) -> list[object]:
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)).scalars())
    finally:
        engine.dispose()


def test_the_stamp_is_the_revision_nbgrader_stamps():
    from nbgrader.api import get_alembic_version

    if shutil.which("alembic") is None:
        pytest.fail("alembic is not on PATH; run the tests through `make test`")
    assert alembic_head() == get_alembic_version()


def test_new_gradebook_is_stamped_like_nbgraders_own(settings):
    prepare_database(settings)
    assert scalars(settings, "SELECT version_num FROM alembic_version") == [alembic_head()]


def test_gradebook_opens_with_nbgrader_after_preparation(settings, database):
    with open_gradebook(settings) as gradebook:
        gradebook.add_student("ada")
    with open_gradebook(settings) as gradebook:
        assert [s.id for s in gradebook.students] == ["ada"]
    leftovers = sorted(p.name for p in settings.root.joinpath("var").glob("*"))
    assert leftovers == (["gradebook.db"] if database == "sqlite" else [])


def test_first_opens_at_the_same_moment_share_one_complete_gradebook(settings):
    learners = [f"learner{i}" for i in range(6)]
    start = threading.Barrier(len(learners))

    def add(learner: str) -> None:
        start.wait()
        with open_gradebook(settings) as gradebook:
            gradebook.add_student(learner)

    with ThreadPoolExecutor(len(learners)) as pool:
        list(pool.map(add, learners))
    assert sorted(scalars(settings, "SELECT id FROM student")) == learners
    assert scalars(settings, "SELECT version_num FROM alembic_version") == [alembic_head()]
    assert scalars(settings, "SELECT id FROM course") == [settings.course_id]


def test_tables_created_from_many_places_at_once_exist_once(settings):
    from sqlalchemy import Column, Integer, MetaData, Table, inspect

    prepare_database(settings)
    tables = MetaData()
    Table("workshop_extra", tables, Column("id", Integer, primary_key=True))
    start = threading.Barrier(6)
    engine = create_engine(settings.db_url)

    def create() -> None:
        start.wait()
        create_tables(engine, tables)

    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda _: create(), range(6)))
        assert inspect(engine).has_table("workshop_extra")
    finally:
        engine.dispose()
