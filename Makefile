# The two set-up commands of the README:
#   make book   installs the package with [book] and builds the book into _build/html
#   make test   installs the package with [test] and runs lint, unit tests, the chapters under
#               nbval (compute profile `ci`) and, when the book is built, the browser test.
PYTHON ?= python3
# A CPU wheel of torch; skipped when torch is already importable (e.g. on Colab).
TORCH_PIN ?= torch==2.13.0
PROFILE ?= ci

.PHONY: book test install-torch install-book install-test lint unit notebooks browser

install-torch:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "$(TORCH_PIN)"

install-book: install-torch
	$(PYTHON) -m pip install -q -e ".[book]"

install-test: install-torch
	$(PYTHON) -m pip install -q -e ".[book,test]"

book: install-book
	bash tools/build_book.sh

lint:
	$(PYTHON) -m ruff check .

unit:
	$(PYTHON) -m pytest -q tests --ignore=tests/browser

notebooks:
	SAL_PROFILE=$(PROFILE) $(PYTHON) -m pytest -q --nbval-lax --nbval-current-env book/

browser:
	bash tools/install_browser.sh
	$(PYTHON) -m pytest -q tests/browser

test: install-test lint unit notebooks browser
