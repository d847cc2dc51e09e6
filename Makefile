# The course in two commands: `make test` (what CI runs) and `make course` (every notebook, rendered).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
FAST_ENV := DLCOURSE_FAST=1 DLCOURSE_PROGRESS=lines OMP_NUM_THREADS=1 MPLBACKEND=Agg DLCOURSE_LINT_FIGURES=1

.PHONY: test test-gpu unit notebooks course claims lab bench lint strip clean assignments browser-test

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

test: $(VENV)/.installed  ## unit tests of lib/ and every notebook under nbval, fast mode, 2 workers
	$(FAST_ENV) $(PY) -m pytest -n 2 --dist loadscope $(NBVAL) tests notebooks

test-gpu: $(VENV)/.installed  ## on a CUDA machine: fit (bf16, channels_last, compile), loader, checkpoints on cpu and cuda
	$(PY) -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'make test-gpu needs a CUDA GPU')"
	DLCOURSE_PROGRESS=lines MPLBACKEND=Agg $(PY) -m pytest -v tests/test_devices.py

unit: $(VENV)/.installed  ## unit tests only
	$(FAST_ENV) $(PY) -m pytest -n 2 tests

notebooks: $(VENV)/.installed  ## notebooks only (nbval)
	$(FAST_ENV) $(PY) -m pytest -n 2 --dist loadscope $(NBVAL) notebooks

course: $(VENV)/.installed  ## execute every notebook with papermill into build/ (+ HTML), print a table
	$(PY) scripts/run_course.py $(if $(FULL),--full,)

claims: $(VENV)/.installed  ## every lesson over SEED 0 1 2 x 1 and 2 threads: the table of checked claims
	$(PY) scripts/claims_matrix.py -j 2

assignments: $(VENV)/.installed  ## nbgrader course folder build/classroom/ (LESSONS="01 03", GROUP=week1)
	$(PY) scripts/make_assignments.py $(if $(LESSONS),--lessons $(LESSONS),) $(if $(GROUP),--group $(GROUP),)

lab: $(VENV)/.installed  ## JupyterLab on the notebooks, for self-study (--allow-root only as root)
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,) notebooks/

browser-test: $(VENV)/.installed  ## JupyterLab in headless Chromium: run 00 01 05 06, check widgets; build/screenshots/
	$(PY) scripts/browser_test.py

bench: $(VENV)/.installed  ## tutorial loop vs dlcourse.train.fit on Fashion-MNIST
	$(PY) -m dlcourse bench

lint: $(VENV)/.installed  ## ruff on the package, tests and scripts
	$(VENV)/bin/ruff check lib tests scripts conftest.py

strip: $(VENV)/.installed  ## keep only NBVAL_CHECK_OUTPUT outputs in the committed notebooks
	$(PY) scripts/refresh_notebooks.py --strip-only notebooks/*.ipynb

clean:
	rm -rf build .pytest_cache
