# make demo   the README's main command: set up .venv, check Graphviz, train a small run, trace one
#             step and write its figures, report and explorer into demo/
# make test   the same set-up, then the lint checks (ruff, mypy) and the fast tests (the `slow` ones skipped)
# make test-all  the same with every test: what .ci/run runs
# make bench  speed of the engine (bench/run.py)
# make clean  remove .venv and everything the targets above made

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MICROTRACE := $(VENV)/bin/microtrace
# pip runs again only when pyproject.toml changes. The demo needs the runtime dependencies only; the
# tests add the test extra (pytest, Playwright, ruff, ...) on top.
INSTALLED := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test

.PHONY: demo test test-all lint bench clean dot

DEMO_STEP := 150

# The step is traced once, into a JSON trace of the fused view (one node per dot product): every command
# below, the explorer too, reads it. One line per file written: add yours anywhere after the trace.
demo: $(INSTALLED) dot
	$(MICROTRACE) train --steps 200 --out demo/run --force
	$(MICROTRACE) trace --run demo/run --step $(DEMO_STEP) --view fused -o demo/step.json
	$(MICROTRACE) graph --trace demo/step.json -o demo/graph.svg
	$(MICROTRACE) graph --trace demo/step.json -o demo/graph.png
	$(MICROTRACE) graph --trace demo/step.json --level scalar --focus pos1/layer0/attn/head0 -o demo/head.svg
	$(MICROTRACE) attention --trace demo/step.json -o demo/attention.png
	$(MICROTRACE) attention --trace demo/step.json --grad -o demo/attention-grad.png
	$(MICROTRACE) gradflow --trace demo/step.json -o demo/gradflow.png
	$(MICROTRACE) gradflow --trace demo/step.json --per-position -o demo/gradflow-positions.png
	@# doctor exits 1 when it finds a problem: that is a finding to read, not a failed demo
	$(MICROTRACE) doctor --trace demo/step.json > demo/doctor.txt; status=$$?; cat demo/doctor.txt; test $$status -le 1
	$(MICROTRACE) explore --trace demo/step.json -o demo/explore.html
	$(MICROTRACE) report --trace demo/step.json -o demo/report.html --explorer explore.html
	$(MICROTRACE) film --run demo/run --steps 0:200:5 --text emma -o demo/training.html
	@echo
	@echo "Step $(DEMO_STEP) of demo/run, traced: open demo/report.html in a browser (one page with everything),"
	@echo "walk it in demo/explore.html (open any box down to single scalars, play forward and backward),"
	@echo "or look at demo/graph.svg, demo/head.svg, demo/attention.png, demo/gradflow.png and demo/doctor.txt."

# Two workers (pytest-xdist), one file each at a time so that module fixtures are built once.
PYTEST_PARALLEL := -n 2 --dist loadfile
# Bytecode is cached even where the environment says not to write it (PYTHONDONTWRITEBYTECODE), under
# .venv rather than beside the sources: without it each worker compiles the package and rewrites the
# asserts of every test module again (~3 CPU-s), and every child process a test starts compiles microtrace.
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache $(PY) -m pytest

test: lint $(INSTALLED_TEST) dot
	$(PYTEST) -m "not slow" $(PYTEST_PARALLEL)

test-all: lint $(INSTALLED_TEST) dot
	$(PYTEST) $(PYTEST_PARALLEL)

lint: $(INSTALLED_TEST)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: $(INSTALLED)
	$(PY) bench/run.py

dot:
	@sh .ci/ensure-dot.sh

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.10 or newer" >&2; exit 1; }
	@# A failed venv (e.g. Debian without ensurepip) leaves a half-made .venv: remove it so the next run retries.
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create $(VENV): Python's venv module is unavailable. On Debian/Ubuntu install it with:" >&2; \
		echo "sudo apt-get install python3-venv" >&2; exit 1; }

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install -e .
	@touch $@

# axe-core (npm, pinned) for the accessibility tests, which inject it into the pages; they skip without npm
AXE_CORE := axe-core@4.10.3
$(INSTALLED_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	@if command -v npm >/dev/null 2>&1; then npm install --prefix $(VENV)/axe --no-audit --no-fund --silent $(AXE_CORE); \
		else echo "npm not found: the accessibility tests will skip" >&2; fi
	@touch $@ $(INSTALLED)

clean:
	rm -rf $(VENV) demo build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
