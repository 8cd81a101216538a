"""Settings of this course, read by nbgrader and by nbworkshop (the `Workshop` section).

Paths are anchored at this file so every command works from any directory; the runtime
folders live in the gitignored `var/`.
"""

from pathlib import Path

c = get_config()
here = Path(__file__).resolve().parent

c.CourseDirectory.root = str(here)
c.CourseDirectory.course_id = "ai-society-workshops"
c.CourseDirectory.submitted_directory = "var/submitted"
c.CourseDirectory.autograded_directory = "var/autograded"
c.CourseDirectory.feedback_directory = "var/feedback"
c.CourseDirectory.db_url = f"sqlite:///{here / 'var' / 'gradebook.db'}"

c.Workshop.cell_timeout_s = 60
c.Workshop.kernel_name = "python3"
# Figures in graded notebooks keep their text form: in a session, scores and feedback come back
# in seconds, and no test looks at a rendered picture. "png" renders them as nbgrader does.
c.Workshop.figures = "text"
