#!/usr/bin/env bash
# A Colab runtime mimicked as closely as a CPU machine allows (issue 28), in under 5 minutes:
#   1. a fresh virtual environment with Colab's own packages: the CPU torch wheel standing in for
#      Colab's CUDA torch, ipywidgets 7.7.1, and the numpy, scipy, matplotlib and ipykernel Colab ships;
#   2. the chapters' first cell, taken from the notebook at the ref it installs (the launch branch),
#      run on its Colab branch (a stub `google.colab` imported first), with this clone standing in
#      for the hosting service: `git+https://github.com/OWNER/NAME@REF` becomes `git+file://CLONE@REF`,
#      the same REF, so a ref that does not resolve, or a library there that lacks what the chapter
#      calls, fails here;
#   3. `pip freeze` before and after: pip may add the project and nothing else;
#   4. one cheap chapter, at that ref, executed outside the checkout with SAL_PROFILE=gpu
#      SAL_DEVICE=cpu SAL_MAX_STEPS=300 (benchmarks/bench_memory.py: no error, at most 4 GB), then
#      the three live widgets driven (benchmarks/bench_widget.py: explorer, attention viewer,
#      training panel with Run and Stop) under ipywidgets 7.7.1.
# Usage: bash tools/colab_mimic.sh [CHAPTER]   (default 02_repetition; PYTHON picks the interpreter)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
chapter="${1:-02_repetition}"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/sal_colab_mimic.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
say() { echo "colab-mimic ($(( SECONDS - start )) s): $*"; }
export PIP_DISABLE_PIP_VERSION_CHECK=1 OMP_NUM_THREADS=1 MPLBACKEND=Agg

first_cell="$("$python" - "$repo/book/$chapter.ipynb" <<'EOF'
import json, sys
cells = [c for c in json.load(open(sys.argv[1]))["cells"] if c["cell_type"] == "code"]
print("".join(cells[0]["source"]))
EOF
)"
ref="$(grep -o 'git+https://[^"]*@[^"]*' <<<"$first_cell" | head -1 | sed 's/.*@//')"
[ -n "$ref" ] || { echo "colab-mimic: no git+https://...@REF in the first cell of $chapter"; exit 1; }
say "the install cell installs @$ref; taking the book at that ref from this clone"
mkdir -p "$work/at_ref"
git -C "$repo" archive "$ref" book benchmarks | tar -x -C "$work/at_ref" \
    || { echo "colab-mimic: ref '$ref' does not resolve in this clone"; exit 1; }

say "a venv with Colab's packages"
"$python" -m venv "$work/venv"
venv="$work/venv/bin/python"
pip_install() { "$venv" -m pip install -q "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }; return "${PIPESTATUS[0]}"; }
pip_install "pip==24.1.2"
pip_install "torch==2.13.0"
pip_install "numpy==2.0.2" "scipy==1.14.1" "matplotlib==3.10.0" "tqdm==4.67.1" \
    "ipywidgets==7.7.1" "ipykernel==6.17.1" "nbclient" "nbformat"
"$venv" -m pip freeze | sort > "$work/before.txt"

say "the first cell on its Colab branch (google.colab stubbed, the clone for the hosting service)"
mkdir -p "$work/stub/google/colab" && touch "$work/stub/google/colab/__init__.py"
(cd "$work" && PYTHONPATH="$work/stub" "$venv" - "$work/at_ref/book/$chapter.ipynb" "$repo" <<'EOF'
import json, re, sys
import google.colab  # noqa: F401  (Colab's kernel has it imported)
cells = [c for c in json.load(open(sys.argv[1]))["cells"] if c["cell_type"] == "code"]
source = re.sub(r"git\+https://[^@\"]+@", f"git+file://{sys.argv[2]}@", "".join(cells[0]["source"]))
assert "git+file://" in source, source
exec(compile(source, "<colab cell>", "exec"), {})
EOF
)
"$venv" -m pip freeze | sort > "$work/after.txt"
changed="$(diff "$work/before.txt" "$work/after.txt" | grep '^[<>]' | grep -v '^> sparse-attention-lab @ ' || true)"
if [ -n "$changed" ]; then echo "colab-mimic: pip changed more than the project:"; echo "$changed"; exit 1; fi
grep -q '^sparse-attention-lab @ ' "$work/after.txt" || { echo "colab-mimic: the project was not installed"; exit 1; }
say "pip added the project and nothing else"

say "$chapter at @$ref, outside the checkout, gpu profile on the CPU, 300 steps at most"
(cd "$work" && "$venv" "$work/at_ref/benchmarks/bench_memory.py" --profiles gpu --max-steps 300 --limit-gb 4 \
    "$work/at_ref/book/$chapter.ipynb")
say "the three widgets under ipywidgets 7.7.1"
(cd "$work" && SAL_DEVICE=cpu SAL_MAX_STEPS=300 "$venv" "$work/at_ref/benchmarks/bench_widget.py" --updates 3 --profile gpu)
say "passed"
