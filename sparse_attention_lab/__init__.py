"""sparse_attention_lab: the companion library of *The emergence of sparse attention*.

Zucchet, D'Angelo, Lampinen, Chan, NeurIPS 2025 (arXiv:2505.17863). Modules, bottom up
(a module imports only from the layers below it):

Bottom: sizes, data, models, fits, results files.

- ``profiles``: how big each experiment runs (``ci``, ``laptop``, ``gpu``, ``paper``), device choice.
- ``tasks``: single-location linear regression and in-context associative recall samplers.
- ``toy``: the toy attention model (Eq. 2) and its exact expected loss.
- ``fitting``: plateau measurement on curves and power-law fits on logs.
- ``models``: a configurable Transformer (Table 1).
- ``results``, ``executors``: JSON-lines results files (atomic append, resume keys); where jobs run.

Middle: dynamics and training.

- ``dynamics``: the reduced gradient-flow equations, their linearization and escape times.
- ``gradient_signal``: the gradient reaching ``W`` from the relevant token at initialization.
- ``training``: Adam/SGD training with plateau detection, several seeds at once.
- ``probes``: attention probes for induction heads.
- ``schedules``: diversity schedules (constant, switch, adaptive) for repetition ``p`` and ``B``.

Top: experiments, sweeps and the book's figures and widgets.

- ``experiments``: the paper's Transformer runs and named sweep grids (regression, recall).
- ``sweeps``: grids of runs with provenance, resume and pluggable executors.
- ``forecast``: predict a plateau from cheap settings, with an uncertainty band.
- ``plots``, ``attention_viewer``: figures.
- ``explorer``, ``widgets``, ``panel``: the kernel-free explorer, live sliders, the training panel.
"""

__version__ = "0.1.0"
