"""nbworkshop's grading layer: sandboxed execution, scoring, gradebook persistence, feedback."""
