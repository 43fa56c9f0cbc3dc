"""Inside the Transformer: do the weights align before the attention moves? (Fig. 1b, Section 2.3)

The toy model (Eq. 2) has two variables: the alignment ``w`` of its weights with ``W*`` and the
attention ``alpha`` on the relevant token; the theory says ``w`` grows first, while the
attention is still uniform, and then the two feed each other. This module measures the same
two things in a trained Transformer, on the test set, at every evaluation:

- ``alignment`` (:func:`end_to_end_alignment`): the projection onto ``W*`` of the end-to-end
  linear map from the relevant token's content to the prediction,
  ``m = <J, W*>_F / ||W*||_F^2`` with ``J = E_test[dy / dx_rel]`` (1 for a perfect model).
  In the toy model ``m = alpha w / ||W*||_F`` exactly (``w`` of
  :func:`~sparse_attention_lab.theory.toy.alignment`); the weight side is therefore
  ``m / alpha`` (:func:`weight_side`, ``alpha`` the strongest readout head's attention on the
  relevant token), the toy's ``w`` in units of its final value when the model is the toy.
- ``readout_attention``: the readout position's attention on the relevant token, per layer and
  head (:func:`~sparse_attention_lab.experiments.regression.relevant_attention_probe`).

:func:`lead` is the number of steps between the weight side and the attention reaching a
fraction (10%) of their rise from initial to final value; :func:`toy_lead` is the same quantity in the reduced
dynamics of the toy model, in gradient-flow time. Both are also given relative to the
plateau length, the one unit the two share.

The sweeps of this module (:data:`SWEEPS`, run by ``python -m sparse_attention_lab sweep``) are
small: the Fig. 3 ``ci`` grid with this probe, the shortcut ablation of cross-sample
repetition (``signed_repeat``: the repeated token's targets made zero-mean), the final
attention against ``B`` after long training, and the Fig. 14 investigation (relevant-token
feature or not at a fixed position, at two learning rates, with a finer evaluation grid).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from sparse_attention_lab.experiments import regression
from sparse_attention_lab.measure import escape_step, first_crossing
from sparse_attention_lab.models import Transformer
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.tasks import SingleLocationRegression
from sparse_attention_lab.theory.reduced import reduced_dynamics
from sparse_attention_lab.training.trainer import train

LEAD_FRACTION = 0.1
"""The fraction of its rise (from its initial to its final value) at which a variable counts as
having moved. Measured from the initial value, not from zero: the attention starts at the
uniform ``1 / (T + 1)``, which at ``T = 16`` is already more than half of 10% of its final value."""

def end_to_end_alignment(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, positions: torch.Tensor, W_star: torch.Tensor
) -> torch.Tensor:
    """``<J, W*>_F / ||W*||_F^2`` per ensemble member, ``J`` the mean Jacobian of the prediction
    with respect to the relevant token's ``d`` content coordinates over the sequences ``x``.

    ``model`` maps ``(E, n, T, d_in)`` to ``(E, n, d)`` (a :class:`Transformer`); ``x`` is
    ``(n, T, d_in)``, ``positions`` ``(n,)`` the relevant position of each sequence. Sequence
    ``k`` probes output row ``i = k mod d``, so one backward pass gives the exact projection
    when ``J`` is the same for every sequence (``n`` a multiple of ``d``), and its test-set
    average otherwise.
    """
    n, _, d_in = x.shape
    d = W_star.shape[0]
    if W_star.shape != (d, d) or d > d_in:
        raise ValueError(f"W_star must be (d, d) with d <= d_in = {d_in}, got {tuple(W_star.shape)}.")
    if positions.shape != (n,):
        raise ValueError(f"positions must have shape ({n},), got {tuple(positions.shape)}.")
    if n % d:
        raise ValueError(f"x must hold a multiple of d = {d} sequences, got {n}.")
    E = getattr(model, "n_models", 1)
    rows = torch.arange(n, device=x.device) % d  # (n,) the output coordinate each sequence probes
    with torch.enable_grad():
        inputs = x.expand(E, *x.shape).clone().requires_grad_(True)  # (E, n, T, d_in)
        y = model(inputs)  # (E, n, d)
        (grad,) = torch.autograd.grad(y[:, torch.arange(n), rows].sum(), inputs)
    on_relevant = grad[:, torch.arange(n), positions, :d]  # (E, n, d): row i_k of J for sequence k
    projected = (on_relevant * W_star[rows]).sum(-1)  # (E, n)
    return d * projected.mean(1) / W_star.pow(2).sum()


class MechanismProbe:
    """The ``probe(model, step)`` hook of :func:`~sparse_attention_lab.training.trainer.train`:
    ``alignment`` ``(E,)`` and ``readout_attention`` ``(E, layers, heads)`` on fixed test
    sequences of ``task`` (no repetition); ``n_sequences`` is rounded up to a multiple of ``d``."""

    def __init__(self, task: SingleLocationRegression, n_sequences: int = 256, seed: int = 0) -> None:
        if isinstance(n_sequences, bool) or not isinstance(n_sequences, int) or n_sequences < 1:
            raise ValueError(f"n_sequences must be a positive integer, got {n_sequences!r}.")
        n = task.d * math.ceil(n_sequences / task.d)
        self.attention = regression.relevant_attention_probe(task, n, seed)
        test = task.test_task()
        generator = torch.Generator().manual_seed(seed + 1)
        self.x, _ = test.sample(n, generator)
        if task.feature:
            self.positions = self.x[..., -1].argmax(-1)
        else:
            self.positions = test.fixed_positions[:1].expand(n)
        self.W_star = task.W_star

    @torch.no_grad()
    def __call__(self, model: Transformer, step: int) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        m = end_to_end_alignment(model, self.x.to(device), self.positions.to(device), self.W_star.to(device))
        return {"alignment": m.cpu(), **self.attention(model, step)}


def run(config: dict, seeds: list[int], *, probe=None, callback=None, device: str | None = None) -> list[dict]:
    """Train ``config`` for every seed (all at once) with :class:`MechanismProbe` (or ``probe``);
    one record per seed. ``callback`` and ``device`` as for :func:`.regression.run`."""
    task, model, training = regression.build({k: v for k, v in config.items() if k != "probe_attention"})
    if device is not None:
        training = replace(training, device=device)
    return train(task, model, training, seeds, probe=probe or MechanismProbe(task), callback=callback, config=config)


# --------------------------------------------------------------------------- measures


def strongest_attention(record: dict) -> np.ndarray:
    """Per evaluation, the largest readout attention on the relevant token over layers and heads."""
    attention = np.asarray(record["probes"]["readout_attention"], dtype=float)  # (evals, layers, heads)
    return attention.reshape(len(attention), -1).max(-1)


def weight_side(record: dict) -> np.ndarray:
    """Per evaluation, ``w = m / alpha``: the end-to-end alignment per unit of readout attention."""
    return np.asarray(record["probes"]["alignment"], dtype=float) / strongest_attention(record)


def moved_at(times: Sequence[float], values: Sequence[float], fraction: float = LEAD_FRACTION) -> float:
    """First time ``values`` has covered ``fraction`` of its rise from ``values[0]`` to
    ``values[-1]`` (``math.inf`` if never; ``ValueError`` if it does not rise)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}.")
    values = np.asarray(values, dtype=float)
    if not values[-1] > values[0]:
        raise ValueError(f"values must end above where they start, got {values[0]!r} -> {values[-1]!r}.")
    return first_crossing(times, values, values[0] + fraction * (values[-1] - values[0]), direction="above")


def lead(times: Sequence[float], w: Sequence[float], alpha: Sequence[float], fraction: float = LEAD_FRACTION) -> float:
    """Time from ``w`` covering ``fraction`` of its rise to ``alpha`` doing so (positive: the
    weights move first)."""
    return moved_at(times, alpha, fraction) - moved_at(times, w, fraction)


def transformer_lead(record: dict, fraction: float = LEAD_FRACTION) -> dict:
    """The lead of a :func:`run` record: in steps, and relative to its escape step (0.2 of the
    initial test loss, App. D.1)."""
    steps = record["steps"]
    value = lead(steps, weight_side(record), strongest_attention(record), fraction)
    escape = escape_step(record, fraction=0.2)
    return {"lead": value, "escape": escape, "relative": value / escape}


def toy_lead(T: int, d: int, B: int = 1, fraction: float = LEAD_FRACTION) -> dict:
    """The lead of the toy model's reduced dynamics from the origin (gradient-flow time), and
    relative to its plateau (0.2 of the initial loss)."""
    trajectory = reduced_dynamics(T, d, B, n_points=2000)
    value = lead(trajectory.times, trajectory.w, trajectory.alpha, fraction)
    return {"lead": value, "escape": trajectory.plateau, "relative": value / trajectory.plateau}


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
    base = {**_base(profile), "T": s["T"], "escape_fraction": regression.REPEATED_ESCAPE_FRACTION}
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
