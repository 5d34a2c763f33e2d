"""Maintainer tools (not imported by the notebook): tools/make_student.py writes the student notebook."""
