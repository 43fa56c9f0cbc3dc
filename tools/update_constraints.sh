#!/usr/bin/env bash
# Move the book's build and test tools to their newest versions on purpose:
#
#   make constraints        (or: bash tools/update_constraints.sh)
#
# In a fresh virtual environment (_build/constraints-venv), installs torch ($TORCH_PIN) and the
# package with [book,test] with no constraints, so pip resolves the newest release of everything;
# builds the book and runs the whole suite there (`make book test`); and only when both are green
# rewrites requirements/constraints.txt from what was installed, then prints the versions that
# moved. A red run leaves the constraints file untouched: fix what broke, then run it again.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="_build/constraints-venv"
OUT="requirements/constraints.txt"
PYTHON_BIN="${PYTHON:-python3}"

rm -rf "$VENV"
"$PYTHON_BIN" -m venv "$VENV"
export PATH="$PWD/$VENV/bin:$PATH"
"$VENV/bin/python" -m pip install -q --upgrade pip
make book test PYTHON="$VENV/bin/python" CONSTRAINTS=

new="$(mktemp)"
{
    echo "# Tested versions of the tools that build and test the book, and of all they pull in."
    echo "# Made by \`make constraints\` (tools/update_constraints.sh) on $(date -u +%Y-%m-%d), Python"
    echo "# $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'), from a run of \`make book test\` that was green at these versions."
    echo "# \`make book\`, \`make test\` and CI install through it; the library alone keeps the ranges"
    echo "# of pyproject.toml. torch is not pinned here: the Makefile's TORCH_PIN installs it."
    "$VENV/bin/python" -m pip freeze --exclude-editable | grep -viE '^(torch|nvidia-|triton)' | sort -f
} > "$new"

if [ -f "$OUT" ]; then
    echo "Versions that moved (old -> new):"
    join -t= -j1 -a2 -e '(none)' -o 0,1.2,2.2 \
        <(grep -v '^#' "$OUT" | sed 's/==/=/' | sort -t= -k1,1) \
        <(grep -v '^#' "$new" | sed 's/==/=/' | sort -t= -k1,1) 2>/dev/null \
        | awk -F= '$2 != $3 {print "  " $1 ": " $2 " -> " $3}' || true
fi
mv "$new" "$OUT"
echo "Wrote $OUT"
