"""A plain nbgrader course, configured as nbgrader's documentation shows (relative paths)."""

c = get_config()
c.CourseDirectory.course_id = "parity"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
c.LateSubmissionPlugin.penalty_method = "zero"
