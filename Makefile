# make demo   the README's main command: set up .venv, check Graphviz, train a small run into demo/
# make test   the same set-up, then the test suite
# make bench  speed of the engine (bench/run.py)
# make clean  remove .venv and everything the targets above made

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MICROTRACE := $(VENV)/bin/microtrace
# pip runs again only when pyproject.toml changes.
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench clean dot

demo: $(INSTALLED) dot
	$(MICROTRACE) train --steps 200 --out demo/run --force

test: $(INSTALLED) dot
	$(PY) -m pytest

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
	$(PY) -m pip install -e '.[test]'
	@touch $@

clean:
	rm -rf $(VENV) demo build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
