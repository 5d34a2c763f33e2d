# Two commands for a fresh machine (Python >= 3.11 and make):
#   make run    - create .venv, install everything, run Assignment_4.ipynb headlessly
#                 into runs/Assignment_4.out.ipynb (the committed notebook is not touched)
#   make test   - create .venv, install everything, lint, run the unit tests and nbval on the notebook
#   make unit   - lint and the unit tests only: no notebook execution, no grading cycle (a few minutes)
#   make release - the student version with nbgrader (nbgrader_config.py): build/course/source/assignment4
#                 from the reference, `nbgrader generate_assignment`, then copy its notebook to
#                 release/Assignment_4.ipynb (committed; the rest of build/ is not)
# Maintainers: `make regenerate` re-executes the committed notebook in place (its outputs are the
# reference nbval compares against).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NB := Assignment_4.ipynb
PARAMS ?=
# nbgrader's course directory, the committed copy of the released notebook and the reference it is made
# from (tests override them).
COURSE_DIR ?= build/course
RELEASE_NB ?= release/Assignment_4.ipynb
ASSIGNMENT := assignment4
REFERENCE ?= $(NB)
# What the students get besides the notebook (section 12 reads the benchmark CSVs).
RELEASE_FILES := utils requirements.txt requirements-data.txt data/README.md \
	$(wildcard benchmarks/results/*.csv)

# What a working environment must be able to import (a stamp file alone does not prove it).
IMPORT_CHECK := import tensorflow, keras, numpy, pandas, matplotlib, scipy, HersheyFonts, nbformat, nbval, papermill, pytest, nbgrader

.PHONY: setup check-python check-venv run lint unit test regenerate release release-notebook clean

setup: check-python check-venv
	@$(MAKE) --no-print-directory $(VENV)/.installed PYTHON="$(PYTHON)" VENV="$(VENV)"

# Fail at once, with the fix, instead of minutes later inside pip ("No matching distribution").
check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "error: Python >= 3.11 is needed; PYTHON=$(PYTHON) is: $$($(PYTHON) --version 2>&1 || echo 'not found')." \
		     "Install Python 3.11+ and run e.g. 'make test PYTHON=python3.11'." >&2; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
		echo "error: $(PYTHON) has no working 'venv' module (with ensurepip). On Debian/Ubuntu:" \
		     "'apt install python3-venv' (or python3.11-venv), then run make again." >&2; exit 1; }

# A .venv whose stamp exists but whose packages do not import (interrupted install, Python upgraded,
# files deleted) is removed, so that setup rebuilds it.
check-venv:
	@if [ -f "$(VENV)/.installed" ] && ! "$(BIN)/python" -c "$(IMPORT_CHECK)" >/dev/null 2>&1; then \
		echo "$(VENV) is broken (its packages do not import): removing it to rebuild it" >&2; \
		rm -rf "$(VENV)"; fi

$(VENV)/.installed: requirements.txt requirements-data.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-data.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

run: setup
	mkdir -p runs
	$(BIN)/papermill --log-output --no-progress-bar $(NB) runs/Assignment_4.out.ipynb $(PARAMS) >/dev/null
	@echo "Executed notebook: runs/Assignment_4.out.ipynb"

lint: setup
	$(BIN)/ruff check .

unit: lint
	ASSIGNMENT4_RUNS_DIR=$$(mktemp -d) $(BIN)/python -m pytest tests -m "not grading" \
		--ignore=tests/test_release.py

test: lint
	ASSIGNMENT4_RUNS_DIR=$$(mktemp -d) $(BIN)/python -m pytest tests $(NB) --nbval --nbval-current-env \
		--nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=1200

regenerate: setup
	ASSIGNMENT4_RUNS_DIR=$$(mktemp -d) $(BIN)/jupyter execute --inplace --timeout=1200 $(NB)

release: setup
	@$(MAKE) --no-print-directory release-notebook

# The release itself, without the set-up check (tests/test_release.py runs it into a temporary folder).
# The source folder is rebuilt from scratch each time; execution timestamps are dropped from the copy of
# the reference, so the release changes only when the reference's sources change (same bytes every run).
# A reference that does not read is one line of error; the copy goes through a temporary file and a rename,
# so a RELEASE_NB hard-linked to the reference replaces the link and never writes through it.
release-notebook:
	rm -rf "$(COURSE_DIR)/source/$(ASSIGNMENT)"
	mkdir -p "$(COURSE_DIR)/source/$(ASSIGNMENT)" "$(dir $(RELEASE_NB))"
	tar cf - --exclude=__pycache__ --exclude='*.pyc' $(RELEASE_FILES) \
		| tar xf - -C "$(COURSE_DIR)/source/$(ASSIGNMENT)"
	$(BIN)/python -c 'import sys, nbformat; sys.excepthook = lambda kind, exc, tb: sys.stderr.write( \
		f"error: cannot release {sys.argv[1]}: {kind.__name__}: {str(exc).partition(chr(10))[0]}\n"); \
		nb = nbformat.read(sys.argv[1], as_version=4); \
		[cell.metadata.pop("execution", None) for cell in nb.cells]; nbformat.write(nb, sys.argv[2])' \
		"$(REFERENCE)" "$(COURSE_DIR)/source/$(ASSIGNMENT)/$(NB)"
	PATH="$(abspath $(BIN)):$$PATH" nbgrader generate_assignment $(ASSIGNMENT) --force --log-level=WARN \
		--CourseDirectory.root="$(abspath $(COURSE_DIR))"
	cp "$(COURSE_DIR)/release/$(ASSIGNMENT)/$(NB)" "$(RELEASE_NB).tmp"
	mv -f "$(RELEASE_NB).tmp" "$(RELEASE_NB)"
	@echo "Student release: $(COURSE_DIR)/release/$(ASSIGNMENT)/ (notebook copied to $(RELEASE_NB))"

clean:
	rm -rf $(VENV) runs data/shakespeare* data/downloads
