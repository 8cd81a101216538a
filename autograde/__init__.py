"""nbworkshop's grading layer: sandboxed execution, scoring and the gradebook (issue 3)."""
