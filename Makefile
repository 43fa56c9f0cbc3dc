# The two set-up commands of the README:
#   make book   installs the package with [book] and builds the book into _build/html
#   make test   installs the package with [book,test] and runs lint, unit tests, the chapters
#               under nbval (compute profile `ci`), the browser test and the Colab mimic.
# Both install the build and test tools at the tested versions of requirements/constraints.txt
# (the library alone, `pip install sparse-attention-lab`, keeps the ranges of pyproject.toml).
# `make constraints` moves to the newest versions on purpose (CONTRIBUTING.md says when).
PYTHON ?= python3
# A CPU wheel of torch; skipped when torch is already importable (e.g. on Colab).
TORCH_PIN ?= torch==2.13.0
PROFILE ?= ci
CONSTRAINTS ?= requirements/constraints.txt
PIP_CONSTRAINTS = $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# Where the chapters write their scorecards under nbval: never the committed book/data.
TEST_RESULTS ?= $(CURDIR)/_build/test_results

.PHONY: book test install-torch install-book install-test versions lint unit notebooks browser colab-mimic clean-check constraints

install-torch:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "$(TORCH_PIN)"

install-book: install-torch
	$(PYTHON) -m pip install -q $(PIP_CONSTRAINTS) -e ".[book]"

install-test: install-torch
	$(PYTHON) -m pip install -q $(PIP_CONSTRAINTS) -e ".[book,test]"

versions:
	@$(PYTHON) tools/versions.py

book: install-book versions
	bash tools/build_book.sh

lint:
	$(PYTHON) -m ruff check .

unit:
	$(PYTHON) -m pytest -q tests --ignore=tests/browser

notebooks:
	rm -rf "$(TEST_RESULTS)" && mkdir -p "$(TEST_RESULTS)"
	SAL_PROFILE=$(PROFILE) SAL_RESULTS_DIR="$(TEST_RESULTS)" $(PYTHON) -m pytest -q --nbval-lax --nbval-current-env book/

browser:
	bash tools/install_browser.sh
	$(PYTHON) -m pytest -q tests/browser

# A Colab runtime mimicked (issue 28): Colab's packages in a fresh venv, the chapters' install cell on
# its Colab branch with this clone for the hosting service, one chapter and the widgets (< 5 min).
colab-mimic:
	PYTHON=$(PYTHON) bash tools/colab_mimic.sh

test: install-test versions lint unit notebooks browser colab-mimic

# Fails when the tests changed a tracked file or left an untracked one (CI ends with it).
clean-check:
	@changes="$$(git status --porcelain)"; if [ -n "$$changes" ]; then \
		echo "The tests changed the checkout:"; echo "$$changes"; exit 1; fi; \
		echo "The checkout is as the tests found it."

# Newest versions of every build and test tool, in a fresh virtual environment; when the whole
# suite is green there, requirements/constraints.txt is rewritten from it.
constraints:
	bash tools/update_constraints.sh
