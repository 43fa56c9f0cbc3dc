"""sparse_attention_lab: the companion library of *The emergence of sparse attention*.

Zucchet, D'Angelo, Lampinen, Chan, NeurIPS 2025 (arXiv:2505.17863). Modules, bottom up:

- ``profiles``: how big each experiment runs (``ci``, ``laptop``, ``gpu``, ``paper``), device choice.
- ``tasks``: single-location linear regression and in-context associative recall samplers.
- ``toy``: the toy attention model (Eq. 2) and its exact expected loss.
- ``fitting``: plateau measurement on curves and power-law fits on logs.
- ``dynamics``: the reduced gradient-flow equations, their linearization and escape times.
- ``models``: a configurable Transformer (Table 1).
- ``training``: Adam/SGD training with plateau detection, several seeds at once.
- ``probes``: attention probes for induction heads.
- ``sweeps``: grids of runs with provenance and resume.
- ``plots``, ``widgets``: figures and interactive explorers for the book.
"""

__version__ = "0.1.0"
