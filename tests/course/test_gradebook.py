import shutil

import pytest
from sqlalchemy import create_engine, text

from course.gradebook import alembic_head, open_gradebook, prepare_database


def test_new_gradebook_is_stamped_like_nbgraders_own(settings):
    from nbgrader.api import get_alembic_version

    if shutil.which("alembic") is None:
        pytest.fail("alembic is not on PATH; run the tests through `make test`")
    assert alembic_head() == get_alembic_version()
    prepare_database(settings)
    engine = create_engine(settings.db_url)
    with engine.connect() as connection:
        stamped = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert stamped == alembic_head()


def test_gradebook_opens_with_nbgrader_after_preparation(settings):
    with open_gradebook(settings) as gradebook:
        gradebook.add_student("ada")
    with open_gradebook(settings) as gradebook:
        assert [s.id for s in gradebook.students] == ["ada"]
    leftovers = [p.name for p in settings.root.joinpath("var").iterdir()]
    assert leftovers == ["gradebook.db"]
