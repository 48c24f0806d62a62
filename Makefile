# Everything a newcomer or CI needs starts here. `make test` builds the venv from nothing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test test-quick soak lint format run demo playground sandbox emulator bench clean messages

# uv (from PyPI) installs the project in seconds where pip takes minutes; pip is the
# fallback when uv can't be installed. .ci/pythons.py uses the same uv for .venvs/3.X.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check 'uv>=0.4' || true
	if [ -x $(VENV)/bin/uv ]; then \
		$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'; \
	else \
		$(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -e '.[dev]'; \
	fi
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo --no-cache

# The message catalogs (core/locales, docs/languages.md): every `_()` in the code and every
# slash-command string into orderbot.pot and each language's .po, then the .po compiled
# to the .mo the bot reads. Translate the new entries in the .po files, then run it again.
messages: venv
	$(PY) -m tools.messages extract
	$(PY) -m tools.messages compile
	$(PY) -m tools.messages check || true

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The whole suite on every Python pyproject claims (3.11, 3.12, 3.13), side by side, each in
# its own .venvs/3.X. A Python you don't have is skipped with a line saying so; CI
# (REQUIRE_ALL_PYTHONS=1) fails instead. `make test-quick` runs only .venv's Python.
# The lint runs beside the suites, not before them: mypy keeps one core busy for about a
# minute while the other would wait. Both must pass; the lint's output comes last.
test: venv
	@$(MAKE) --no-print-directory lint > $(VENV)/lint.log 2>&1 & lint=$$!; \
	$(PYTHON) .ci/pythons.py $(PYTEST_ARGS); suites=$$?; \
	wait $$lint; linted=$$?; \
	echo "===== lint (ruff, mypy, lint-imports): exit $$linted ====="; cat $(VENV)/lint.log; \
	test $$suites -eq 0 -a $$linted -eq 0

# The edit-run loop: one Python, without the tests that start processes (-m subprocess),
# spread over 6 workers (pytest-xdist): they mostly wait, so 6 share 2 cores well.
test-quick: lint
	$(PY) -m pytest -p no:cacheprovider -m "not subprocess" -n 6 $(PYTEST_ARGS)

# The soaks (`-m soak`), beside a throwaway PostgreSQL: a gateway and three workers, 300
# orders, two workers killed with kill -9 (tests/e2e/test_worker_soak.py). Not part of
# `make test`: about 90 s of its own.
soak: venv
	$(PY) .ci/postgres.py $(PY) -m pytest -p no:cacheprovider -m soak -v $(PYTEST_ARGS)

# Connects to real Discord with the token in .env.
run: venv
	$(PY) -m bot run

# The real bot, offline: sandbox providers + Discord emulator + scripted buyer and staff.
demo: venv
	$(PY) -m demo

# The same stack with a web page that works like Discord: try the shop by hand, as a
# buyer or staff, with your own catalog (CATALOG=my.toml). Prints the address to open.
CATALOG ?= catalog.toml
playground: venv
	$(PY) -m demo.playground --catalog $(CATALOG)

sandbox: venv
	$(PY) -m sandbox --port 0

emulator: venv
	$(PY) -m emulator --port 0

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venvs .mypy_cache .pytest_cache .ruff_cache
