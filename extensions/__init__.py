"""What runs inside Jupyter: the learner's Check widget and the server extension (issue 4)."""
