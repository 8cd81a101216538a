"""Saving grades from several graders at once, on SQLite and PostgreSQL: a learner who is not
on the roster yet may be added by two graders of different workshops in the same moment."""

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograde.persist import graded_fingerprints, save_grades
from autograde.submissions import Submission
from course.gradebook import open_gradebook
from course.release import release_workshop

pytestmark = pytest.mark.databases("sqlite", "postgresql")

WORKSHOPS = ("ws", "ws-again")


def test_two_graders_adding_the_same_new_learner_both_save(settings):
    shutil.copytree(settings.source_dir / "ws", settings.source_dir / "ws-again")
    for workshop in WORKSHOPS:
        release_workshop(settings, workshop, {})
    start = threading.Barrier(len(WORKSHOPS))

    def grade(workshop: str) -> None:
        submission = Submission("newcomer", workshop, settings.submitted_dir, None, ())
        with open_gradebook(settings) as gradebook:
            graded_fingerprints(gradebook, workshop)
            start.wait()
            save_grades(gradebook, settings, submission, {}, f"fingerprint-{workshop}")

    with ThreadPoolExecutor(len(WORKSHOPS)) as pool:
        list(pool.map(grade, WORKSHOPS))
    with open_gradebook(settings) as gradebook:
        assert [s.id for s in gradebook.students] == ["newcomer"]
        for workshop in WORKSHOPS:
            submission = gradebook.find_submission(workshop, "newcomer")
            assert submission.code_score == 0.0
            assert graded_fingerprints(gradebook, workshop) == {
                "newcomer": f"fingerprint-{workshop}"
            }
