# Convolutional Networks for Object Recognition: the course's commands.
#   make lab     install (first time only) and open the course in JupyterLab
#   make test    install (first time only) and run every test
# See README.md for the instructor's commands (release, grade, hub).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
PYTEST_ARGS ?=

NBGRADER_INSTRUCTOR_LAB := @jupyter/nbgrader:formgrader @jupyter/nbgrader:create-assignment
NBGRADER_INSTRUCTOR_SERVER := nbgrader.server_extensions.formgrader
# The assignment and course lists talk to nbgrader's exchange, which only a hub has (`make hub` builds its own
# environment with them): in this local environment they would only say "Error fetching courses!".
NBGRADER_EXCHANGE_LAB := @jupyter/nbgrader:assignment-list @jupyter/nbgrader:course-list
NBGRADER_EXCHANGE_SERVER := nbgrader.server_extensions.assignment_list nbgrader.server_extensions.course_list
# JupyterLab settings the course ships (deploy/lab/overrides.json): widget state saved with the notebook, so that
# a reopened notebook shows its widgets' last pictures instead of "Error displaying widget: model not found".
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: setup setup-student setup-instructor lab test test-fast release grade feedback bench lock system-deps student-mode instructor-mode hub clear-outputs clean help

help:  ## list these commands
	@sed -n '1,4p' Makefile
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  make %-16s %s\n", $$1, $$2}' Makefile

# ---------------------------------------------------------------- installation
# Three groups, each a lock of its own (requirements/<group>.lock, from requirements/<group>.in; pyproject.toml's
# optional dependencies name the same groups): a student's lab; the instructor's tools on top (nbgrader's
# autograde, the hub, the grading sandbox's kernel); the developer's tools on top of those (tests, linters,
# the browser). Each stamp is newer than its lock and the package metadata, so a second run does nothing.
STAMP_STUDENT    := $(VENV)/.course-student-stamp
STAMP_INSTRUCTOR := $(VENV)/.course-instructor-stamp
STAMP_DEV        := $(VENV)/.course-dev-stamp

setup: $(STAMP_DEV)  ## install everything (the student, instructor and developer groups) into .venv
setup-student: $(STAMP_STUDENT)  ## install a student's lab only (make lab does it the first time)
setup-instructor: $(STAMP_INSTRUCTOR)  ## install the student's lab and the instructor's tools

$(STAMP_STUDENT): requirements/student.lock pyproject.toml deploy/lab/overrides.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/student.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	install -D -m 644 deploy/lab/overrides.json $(LAB_OVERRIDES)
	@$(MAKE) --no-print-directory student-mode
	@touch $@
	@echo "setup: $(VENV) has a student's lab"

$(STAMP_INSTRUCTOR): $(STAMP_STUDENT) requirements/instructor.lock
	$(BIN)/python -m pip install --quiet -r requirements/instructor.lock
	$(BIN)/python -m course_tools.sandbox install
	@touch $@
	@echo "setup: $(VENV) has the instructor's tools"

# The accessibility tests' axe-core comes from the npm registry (tests/a11y/package-lock.json pins it).
$(STAMP_DEV): $(STAMP_INSTRUCTOR) requirements/dev.lock tests/a11y/package-lock.json
	$(BIN)/python -m pip install --quiet -r requirements/dev.lock
	@command -v npm >/dev/null 2>&1 || { echo "setup: npm is needed for the accessibility tests: make system-deps installs it" >&2; exit 1; }
	npm ci --prefix tests/a11y --no-audit --no-fund --silent
	@touch $@
	@echo "setup: $(VENV) is ready"

# Students get Validate, not the instructor's formgrader / create-assignment tools (nor, locally, the exchange's
# assignment list: see NBGRADER_EXCHANGE_LAB).
student-mode:  ## hide the instructor's tools (formgrader, create-assignment) in .venv
	@$(BIN)/jupyter labextension disable --level=sys_prefix $(NBGRADER_INSTRUCTOR_LAB) $(NBGRADER_EXCHANGE_LAB) >/dev/null 2>&1
	@for ext in $(NBGRADER_INSTRUCTOR_SERVER) $(NBGRADER_EXCHANGE_SERVER); do \
		$(BIN)/jupyter server extension disable --sys-prefix $$ext >/dev/null 2>&1; done
	@echo "student mode: no formgrader, create-assignment or (without an exchange) assignment list in $(VENV)"

instructor-mode: setup-instructor  ## show the formgrader and create-assignment in .venv
	@$(BIN)/jupyter labextension enable --level=sys_prefix $(NBGRADER_INSTRUCTOR_LAB) >/dev/null 2>&1
	@$(BIN)/jupyter server extension enable --sys-prefix $(NBGRADER_INSTRUCTOR_SERVER) >/dev/null 2>&1
	@echo "instructor mode: nbgrader formgrader and create-assignment are enabled in $(VENV)"

# System packages the tests need (headless Chromium for browser tests, bubblewrap for the grading
# sandbox, Debian's Python venv for the hub test). Installs only what is missing; needs root/apt.
system-deps:  ## install the system packages the tests need (Chromium, bubblewrap; root and apt)
	@bash .ci/install-system-deps

# Regenerate the three locks from requirements/*.in (after changing a pin); pip resolves them, installs nothing.
lock:  ## regenerate requirements/*.lock after changing requirements/*.in
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python requirements/lock.py

# ---------------------------------------------------------------- students
# Jupyter refuses to run as root unless told to; in a container or on a fresh cloud VM root is often the
# only user, and `make lab` is a newcomer's first command.
LAB_AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup-student  ## open the course in JupyterLab (options through ARGS=...)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(LAB_AS_ROOT) \
		--LabApp.default_url=/lab/tree/notebooks/01_large_inputs_and_parameter_counting.ipynb $(ARGS)

# ---------------------------------------------------------------- tests
test: system-deps setup  ## run every test (options through PYTEST_ARGS=...)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Everything but the browser, hub and notebook-execution tests (a quick loop while developing).
test-fast: setup  ## the tests without browser, hub, notebook execution and slow ones
	$(BIN)/python -m pytest -m "not e2e and not hub and not notebooks and not slow" $(PYTEST_ARGS)

bench: setup  ## run the benchmarks (speed ratios and latencies, side by side)
	$(BIN)/python -m course_tools.bench.reference --quick
	$(BIN)/python -m course_tools.bench.widgets
	$(BIN)/python -m course_tools.bench.browser
	$(BIN)/python -m course_tools.bench.torch_track
	$(BIN)/python -m course_tools.bench.grading

# ---------------------------------------------------------------- instructors
release: setup-instructor  ## regenerate assignments/ from solutions/
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m course_tools.grading.release

grade: setup-instructor  ## autograde grading/submitted/ into grading/scores.csv and feedback (ARGS="--student X")
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m course_tools.grading.grade $(ARGS)

# After grading written answers in the formgrader: feedback and scores.csv with the hand grades (runs no code).
feedback: setup-instructor  ## after hand grading: rewrite feedback and scores.csv from the gradebook (runs no code)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m course_tools.grading.grade --feedback-only $(ARGS)

hub: setup-instructor  ## start JupyterHub for a class on this server (deploy/README.md)
	bash deploy/run_hub.sh $(ARGS)

# Notebooks are committed without outputs.
clear-outputs: setup  ## strip outputs from the notebooks and solutions
	$(BIN)/jupyter nbconvert --clear-output --inplace --log-level=WARN notebooks/*.ipynb solutions/*/*.ipynb

clean:  ## remove test artifacts and caches
	rm -rf artifacts .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
