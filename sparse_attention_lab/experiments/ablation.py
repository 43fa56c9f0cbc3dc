"""The paper's open choices, one at a time, at its own width (chapter 3's companion page).

At width 256 our escapes come 2-5 times sooner than the paper's Fig. 3 law
(``analysis.paper.law("Fig. 3")``). The paper leaves several choices of task, model and training open; each entry of
:data:`ABLATIONS` changes one of them from ours to another reading the paper allows, on the
grid of ``profiles.SIZES["fig3_ablation"]``. The threshold's reference (the initial loss or the
plateau's 1/2) needs no runs: :mod:`sparse_attention_lab.analysis.ablation` reads both.
"""

from __future__ import annotations

from sparse_attention_lab.experiments.regression import _cheap_first, _grid, _w256
from sparse_attention_lab.profiles import Profile

OURS = "ours"

PLATEAU_LOSS = 0.5
"""The test loss of the zero prediction, ``E |W* x|^2 / 2 = 1/2`` (App. B.1's scales): the
plateau's level, and the threshold's reference for a readout that starts large."""

ABLATIONS: dict[str, dict] = {
    OURS: {},
    "readout at the last token": {"readout_position": "last"},
    "readout at the relevant token": {"readout_position": "flagged", "probe_attention": False},
    "fixed position": {"position": "fixed"},
    "fixed position, no feature": {"position": "fixed", "feature": False},
    "positions concatenated": {"position_join": "concat"},
    "PyTorch initialisation": {"init": "pytorch"},
    "readout initial scale 1": {"readout_init": 1.0, "escape_reference": PLATEAU_LOSS},
    "loss averaged over outputs": {"output_reduction": "mean"},
    "PyTorch defaults throughout": {"init": "pytorch", "readout_init": 1.0, "escape_reference": PLATEAU_LOSS},
}
"""Each reading, as the config fields it changes from ours (``models.TransformerConfig`` and
``training.trainer.TrainConfig`` document each field). A flagged readout has no attention probe
(it reads the relevant token's own row). A readout that starts at scale 1 starts far above the
plateau, so its runs stop by the threshold taken from the plateau's 1/2. Without the feature the relevant token can only be found
at a fixed position, so the feature is switched off there only (as in Fig. 14). The last reading
combines two: every layer, the readout included, as ``torch.nn.Linear`` starts it."""


def variant(config: dict) -> str:
    """The name in :data:`ABLATIONS` of a run config of sweep ``fig3_ablation``: the reading
    whose every change the config carries, the one with most changes if several do."""
    matches = [name for name, overrides in ABLATIONS.items()
               if all(config.get(k) == v for k, v in overrides.items())]
    return max(matches, key=lambda name: len(ABLATIONS[name]))


def fig3_ablation(profile: Profile) -> list[dict]:
    """Every reading of :data:`ABLATIONS` over the ``T`` x ``d`` grid, cheap cells first. Ours
    keeps ``fig3_w256``'s step cap (its runs are the same); the others stop at ``max_steps``."""
    s = profile.sizes("fig3_ablation")
    configs = []
    for name, overrides in ABLATIONS.items():
        cap = {} if name == OURS else {"max_steps": s["max_steps"]}
        configs += _grid({**_w256(profile), **overrides, **cap}, T=s["T"], d=s["d"])
    return _cheap_first(configs)


SWEEPS = {"fig3_ablation": fig3_ablation}
