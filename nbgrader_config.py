# nbgrader 0.9.6 configuration for the instructor path (`make release`, `nbgrader autograde`, ...).
# nbgrader reads this file from the directory it runs in: run it from the repository root, with
# .venv/bin first on PATH (nbgrader calls `alembic` by name). See README, "For instructors".
import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# The course directory (source/, release/, submitted/, autograded/, feedback/, gradebook.db) lives
# under build/course, which git ignores; `--CourseDirectory.root=DIR` on the command line wins
# (the tests use a temporary one). The assignment is called assignment4: pass it as the argument
# (e.g. `nbgrader autograde assignment4`); nbgrader refuses it in both places.
c.CourseDirectory.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build", "course")

# Never copy these into release, autograded or feedback folders: run folders (checkpoints), the
# corpus cache and downloads (rebuilt in a second), environments and Python/Jupyter litter. nbgrader
# matches each glob against a file's or folder's own name, not its path.
c.CourseDirectory.ignore = [
    "runs", "run-*", "shakespeare*", "downloads", ".venv", "venv",
    "__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache", "feedback",
]

# The notebook trains models: nbgrader's default of 30 s per cell would interrupt training and
# score a correct `fit` 0. Grade with ASSIGNMENT4_PRESET=grading (a budget of a minute or two).
c.Execute.timeout = 1800

# What a student sees in place of a solution region / an answer key.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE (the comment above says what)\n"
              'raise NotImplementedError("write this part (the comment above says what), '
              'then run the self-check cell below it")'
}
c.ClearSolutions.text_stub = "*Your answer here.*"

# Feedback folders get the graded notebook's HTML only: the students already have utils/ and the rest
# (the HTML with its figures is most of the 2 MB a feedback folder may take).
c.GenerateFeedbackApp.CourseDirectory.ignore = c.CourseDirectory.ignore + [
    "utils", "benchmarks", "data", "requirements*.txt"]
