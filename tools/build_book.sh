#!/usr/bin/env bash
# Build the book into _build/html, readable offline:
#
#   bash tools/build_book.sh
#
# Needs the package installed with its `book` extra (`pip install -e ".[book]"`) and npm.
# Notebooks are rendered as committed (`execute_notebooks: off` in _config.yml); every page
# is rebuilt (`--all`) so that `-W` also sees the warnings of pages that did not change.
# SAL_BOOK_TOC=/path/to/toc.yml builds another table of contents than _toc.yml (e.g. while
# some chapters do not exist yet); the browser test (tests/browser) reads the same variable.
#
# MathJax: the pages load it from `_static/vendor/mathjax/` (`mathjax_path` in _config.yml),
# a copy of the npm package `mathjax@3` fetched here at build time and never committed. It
# goes into the *output* `_static/`, never into a source folder of that name, whose scripts
# Jupyter Book would load on every page.
set -euo pipefail
cd "$(dirname "$0")/.."

MATHJAX_SPEC="mathjax@3.2.2"  # pinned, like the Python tools (requirements/constraints.txt)
NPM_PREFIX="_build/vendor"
MATHJAX_SRC="$NPM_PREFIX/node_modules/mathjax/es5"
MATHJAX_DEST="_build/html/_static/vendor/mathjax"

if ! command -v jupyter-book >/dev/null 2>&1; then
    echo "jupyter-book is not installed: run \`pip install -e \".[book]\"\` first." >&2
    exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed (it fetches MathJax for offline pages): install Node.js, e.g. \`apt-get install npm\`." >&2
    exit 1
fi

if [ $# -gt 0 ]; then
    echo "usage: [SAL_BOOK_TOC=toc.yml] bash tools/build_book.sh (takes no arguments)" >&2
    exit 2
fi
toc_option=()
if [ -n "${SAL_BOOK_TOC:-}" ]; then
    toc_option=(--toc "$SAL_BOOK_TOC")
fi

# With --keep-going the pages are written even when a warning fails the build; MathJax is
# copied next to them either way, so that a failed build can still be read, then the build's
# status is returned.
build_status=0
jupyter-book build . --all -W --keep-going "${toc_option[@]}" || build_status=$?
if [ ! -f _build/html/index.html ]; then
    exit "$build_status"
fi

if [ ! -f "$MATHJAX_SRC/tex-mml-chtml.js" ]; then
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --no-save --loglevel=error "$MATHJAX_SPEC"
fi
rm -rf "$MATHJAX_DEST"
mkdir -p "$(dirname "$MATHJAX_DEST")"
cp -r "$MATHJAX_SRC" "$MATHJAX_DEST"
echo "MathJax $(node -p "require('./$NPM_PREFIX/node_modules/mathjax/package.json').version") copied to $MATHJAX_DEST"
if [ "$build_status" -ne 0 ]; then
    echo "The book build failed (warnings are errors): see the warnings above." >&2
    exit "$build_status"
fi
echo "Book built: open _build/html/index.html"
