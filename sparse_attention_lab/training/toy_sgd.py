"""SGD on sampled data for the toy model (Fig. 9): several seeds at once."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from sparse_attention_lab.hardware import capped_steps
from sparse_attention_lab.tasks import checks
from sparse_attention_lab.tasks.regression import SingleLocationRegression, check_sizes
from sparse_attention_lab.theory.toy import alignment, expected_loss
from sparse_attention_lab.training.trainer import stream_seed

INITS = ("random", "zero")


def train_sgd(
    T: int,
    d: int,
    seeds: Sequence[int],
    steps: int,
    batch_size: int | None = 32,
    lr: float = 1.0,
    eval_every: int = 10,
    device: torch.device | str = "cpu",
    teacher: str = "gaussian",
    init: str = "random",
    data_device: torch.device | str | None = None,
) -> dict[str, np.ndarray]:
    """SGD on the toy model with sampled data, several seeds at once (Fig. 9).

    Seed ``s`` draws its task ``SingleLocationRegression(T, d, version="theory", teacher=teacher, seed=s)``
    (``W* ~ N(0, 1/d)`` by default, drawn from ``s``), starts from ``a = 0`` and ``W ~ N(0, 1/d)``,
    and takes ``steps`` steps of SGD with fresh batches on ``1/2 ||y - y*||^2``. Every
    ``eval_every`` steps it records the exact expected loss (:func:`expected_loss`, no sampling
    noise), the alignment ``w`` and the attention ``alpha`` on the relevant (last) token. Arrays
    are ``(seeds, evals)``.

    The three departures from the reduced theory (App. A.3.4) can be switched off one by one:
    ``batch_size=None`` descends the exact expected loss (full batch: no sampling noise),
    ``teacher="unit_columns"`` gives ``W*`` unit-norm columns, ``init="zero"`` starts from ``W = 0``.
    All three together are gradient descent on the reduced theory's own problem.

    Batches are drawn on ``data_device`` (default ``device``: a GPU draws its own, with no copy
    from the host); ``data_device="cpu"`` gives the CPU stream of batches on any device. The
    initial ``W`` comes from a CPU generator, the same on every device. ``$SAL_MAX_STEPS`` caps
    ``steps`` (:func:`~sparse_attention_lab.hardware.capped_steps`).
    """
    T, d, _, _ = check_sizes(T, d)
    seeds = checks.seed_list("seeds", seeds)
    steps, eval_every = checks.positive_int("steps", steps), checks.positive_int("eval_every", eval_every)
    if batch_size is not None:
        batch_size = checks.positive_int("batch_size", batch_size)
    lr = checks.real("lr", lr, above=0)
    checks.choice("init", init, INITS)
    checks.elements("seeds", len(seeds) * (T + d * d), "the seeds' T + d x d parameters")
    tasks = [SingleLocationRegression(T, d, version="theory", teacher=teacher, seed=s) for s in seeds]
    steps = capped_steps(steps)
    data_device = torch.device(device if data_device is None else data_device)
    data = [torch.Generator(device=data_device).manual_seed(stream_seed(s, 1)) for s in seeds]
    W_star = torch.stack([task.W_star for task in tasks]).to(device)
    W0 = torch.stack([torch.randn(d, d, generator=torch.Generator().manual_seed(stream_seed(s, 2))) for s in seeds])
    W = (W0 / math.sqrt(d) if init == "random" else torch.zeros_like(W0)).to(device).requires_grad_(True)
    a = torch.zeros(len(seeds), T, device=device, requires_grad=True)
    record: dict[str, list] = {"steps": [], "loss": [], "w": [], "alpha": []}

    def evaluate(step: int) -> None:
        with torch.no_grad():
            record["steps"].append(step)
            record["loss"].append([expected_loss(a[i], W[i], W_star[i], [-1]).item() for i in range(len(seeds))])
            record["w"].append(alignment(W, W_star).tolist())
            record["alpha"].append(torch.softmax(a, -1)[:, -1].tolist())

    for step in range(steps):
        if step % eval_every == 0:
            evaluate(step)
        if batch_size is None:
            loss = sum(expected_loss(a[i], W[i], W_star[i], [-1]) for i in range(len(seeds)))
        else:
            batches = [task.sample(batch_size, g) for task, g in zip(tasks, data, strict=True)]
            x = torch.stack([b[0] for b in batches]).to(device)  # (seeds, batch, T, d)
            y = torch.stack([b[1] for b in batches]).to(device)  # (seeds, batch, d)
            prediction = torch.einsum("st,sbtd->sbd", torch.softmax(a, -1), x) @ W.transpose(1, 2)
            loss = 0.5 * (prediction - y).pow(2).sum(-1).mean(-1).sum()
        grad_a, grad_W = torch.autograd.grad(loss, (a, W))
        with torch.no_grad():
            a -= lr * grad_a
            W -= lr * grad_W
    evaluate(steps)
    return {key: np.asarray(value).T if key != "steps" else np.asarray(value) for key, value in record.items()}
