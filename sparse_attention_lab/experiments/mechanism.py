"""Inside the Transformer: do the weights align before the attention moves? (Fig. 1b, Section 2.3)

The toy model (Eq. 2) has two variables: the alignment ``w`` of its weights with ``W*`` and the
attention ``alpha`` on the relevant token; the theory says ``w`` grows first, while the
attention is still uniform, and then the two feed each other. This module measures the same
two things in a trained Transformer, on the test set, at every evaluation:

- ``alignment`` (:func:`~sparse_attention_lab.training.probes.end_to_end_alignment`): the projection onto ``W*`` of the end-to-end
  linear map from the relevant token's content to the prediction,
  ``m = <J, W*>_F / ||W*||_F^2`` with ``J = E_test[dy / dx_rel]`` (1 for a perfect model).
  In the toy model ``m = alpha w / ||W*||_F`` exactly (``w`` of
  :func:`~sparse_attention_lab.theory.toy.alignment`); the weight side is therefore
  ``m / alpha`` (``alpha`` the strongest readout head's attention on the relevant token), the
  toy's ``w`` in units of its final value when the model is the toy.
- ``readout_attention``: the readout position's attention on the relevant token, per layer and
  head (:func:`~sparse_attention_lab.training.probes.relevant_attention_probe`).

What the records measure (the weight side, the lead of the weights over the attention, beside
the toy model's) is in :mod:`sparse_attention_lab.analysis.mechanism`.

The sweeps of this module (:data:`SWEEPS`, run by ``python -m sparse_attention_lab sweep``) are
small: the Fig. 3 ``ci`` grid with this probe, the shortcut ablation of cross-sample
repetition (``signed_repeat``: the repeated token's targets made zero-mean), the final
attention against ``B`` after long training, and the Fig. 14 investigation (relevant-token
feature or not at a fixed position, at two learning rates, with a finer evaluation grid).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

from sparse_attention_lab.analysis.measurement import REPEATED_ESCAPE_FRACTION
from sparse_attention_lab.experiments import regression
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.training.probes import MechanismProbe
from sparse_attention_lab.training.trainer import train


def run(config: dict, seeds: list[int], *, probe=None, callback=None, device: str | None = None) -> list[dict]:
    """Train ``config`` for every seed (all at once) with :class:`MechanismProbe` (or ``probe``);
    one record per seed. ``callback`` and ``device`` as for :func:`.regression.run`."""
    task, model, training = regression.build({k: v for k, v in config.items() if k != "probe_attention"})
    if device is not None:
        training = replace(training, device=device)
    return train(task, model, training, seeds, probe=probe or MechanismProbe(task), callback=callback, config=config)


# --------------------------------------------------------------------------- named sweeps


def _grid(base: dict, **axes: list) -> list[dict]:
    names = list(axes)
    return [{**base, **dict(zip(names, values, strict=True))} for values in itertools.product(*axes.values())]


def _base(profile: Profile) -> dict:
    return profile.sizes("regression_transformer")


def mech_lead(profile: Profile) -> list[dict]:
    """The Fig. 3 grid of ``profile`` with the alignment probe, evaluated every ``eval_every``
    steps (the lead is a fraction of plateaus of 100 to 700 steps: 25 resolves it coarsely)."""
    s = profile.sizes("fig3")
    return _grid({**_base(profile), "eval_every": profile.sizes("mech_lead")["eval_every"]}, T=s["T"], d=s["d"])


def _one_head(profile: Profile, name: str) -> list[dict]:
    s = profile.sizes(name)
    base = {**_base(profile), "n_layers": 1, "n_heads": 1, "optimizer": s["optimizer"], "lr": s["lr"],
            "max_steps": s["max_steps"], "eval_every": s["eval_every"]}
    return _grid(base, T=s["T"], d=s["d"])


def mech_lead_sgd(profile: Profile) -> list[dict]:
    """:func:`mech_lead` for the 1-layer, 1-head model of Fig. 15 trained by SGD, the optimizer
    closest to the theory's gradient flow."""
    return _one_head(profile, "mech_lead_sgd")


def mech_lead_adam1(profile: Profile) -> list[dict]:
    """:func:`mech_lead_sgd`'s model and grid trained by Adam: the optimizer alone changed."""
    return _one_head(profile, "mech_lead_adam1")


def mech_shortcut(profile: Profile) -> list[dict]:
    """Cross-sample repetition with and without ``signed_repeat`` (threshold 0.4, App. D.1)."""
    s = profile.sizes("mech_shortcut")
    base = {**_base(profile), "T": s["T"], "escape_fraction": REPEATED_ESCAPE_FRACTION}
    plain = _grid(base, p=[0.0] + s["p"], d=s["d"])
    signed = _grid({**base, "signed_repeat": True}, p=s["p"], d=s["d"])
    return plain + signed


def mech_B(profile: Profile) -> list[dict]:
    """In-context repetition trained ``stop_margin`` x past escape: does the attention keep sharpening?"""
    s = profile.sizes("mech_B")
    base = {**_base(profile), "T": s["T"], "stop_margin": s["stop_margin"], "max_steps": s["max_steps"]}
    return _grid(base, B=s["B"], d=s["d"])


def mech_fig14(profile: Profile) -> list[dict]:
    """Fig. 14 at a fixed position, feature or not, at each learning rate, evaluated every ``eval_every``."""
    s = profile.sizes("mech_fig14")
    base = {**_base(profile), "position": "fixed", "eval_every": s["eval_every"], "max_steps": s["max_steps"]}
    return [
        {**config, "lr": lr, "feature": feature}
        for lr in s["lr"]
        for feature in (True, False)
        for config in _grid(base, T=s["T"], d=s["d"])
    ]


SWEEPS: dict[str, Callable[[Profile], list[dict]]] = {
    "mech_lead": mech_lead, "mech_lead_sgd": mech_lead_sgd, "mech_lead_adam1": mech_lead_adam1, "mech_shortcut": mech_shortcut, "mech_B": mech_B, "mech_fig14": mech_fig14,
}
