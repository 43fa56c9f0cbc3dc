"""sparse_attention_lab: the companion library of *The emergence of sparse attention*.

Zucchet, D'Angelo, Lampinen, Chan, NeurIPS 2025 (arXiv:2505.17863). Packages, bottom up (a
module imports only from its own layer or below; the table is ``tests/test_layers.py``):

- ``profiles`` (sizes per compute profile, no torch), ``hardware`` (device, banner, profile choice).
- ``tasks``: single-location linear regression and in-context associative recall samplers.
- ``theory``: the toy model (Eq. 2) and its exact loss, the reduced gradient flow (App. A.3, A.4),
  the gradient signal at initialization.
- ``models`` (the Transformer of Table 1), ``measure`` (plateau and emergence steps: one crossing
  rule), ``fitting`` and ``forecast`` (power laws with uncertainties).
- ``training``: Transformers (several seeds at once), SGD on the toy model, attention probes.
- ``experiments``: the paper's runs as plain configs, and the named sweep grids.
- ``runs``: sweeps with provenance and resume, JSON-lines results files, executors.
- ``views``: figures, scorecards, explorers (static and live), the training panel, attention maps.
- ``exercises``: checkers for the chapters' exercises.
"""

__version__ = "0.2.0"
