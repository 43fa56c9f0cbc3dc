"""The one home for argument checks (tasks/checks.py) and the hostile inputs of issue 17.

The table holds invalid inputs across the public API; each must raise ``ValueError`` whose
message names the argument. Size guards must fail before allocating anything: a call that
went on to allocate gigabytes would take seconds, so the fastest of three tries must take a
few milliseconds.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
import torch

from sparse_attention_lab.experiments.schedules import (
    AdaptiveSchedule,
    ConstantSchedule,
    SwitchSchedule,
)
from sparse_attention_lab.fitting import bootstrap_stderr, fit_power_law
from sparse_attention_lab.hardware import current_profile, device
from sparse_attention_lab.measure import attention_step, escape_step, first_crossing, plateau_time
from sparse_attention_lab.models import Transformer, TransformerConfig, sinusoidal_positions
from sparse_attention_lab.runs.results import config_key
from sparse_attention_lab.runs.sweep import run_sweep
from sparse_attention_lab.tasks import (
    AssociativeRecall,
    SingleLocationRegression,
    check_sizes,
    checks,
    query_slots,
    teacher_matrix,
)
from sparse_attention_lab.theory import reduced
from sparse_attention_lab.theory.toy import ToyAttention, alignment, expected_loss
from sparse_attention_lab.training.toy_sgd import train_sgd
from sparse_attention_lab.training.trainer import TrainConfig, train
from sparse_attention_lab.views.scorecard import (
    Scorecard,
    exponent_verdict,
    value_verdict,
    with_error,
)

NAN, INF = math.nan, math.inf
BIG = 10**9
TASK = SingleLocationRegression(8, 2)
MODEL = TransformerConfig(TASK.input_dim, 2, n_layers=1, n_heads=1, d_model=8, d_qk=4, mlp_factor=1)
QUICK = TrainConfig(max_steps=2, eval_every=1, eval_size=8, batch_size=4, stop_margin=None, progress=False)
X = np.array([2.0, 4.0, 8.0, 16.0])
Y = 3.0 * X**1.5


def loss(**kwargs):
    return expected_loss(torch.zeros(4), torch.zeros(2, 2), torch.eye(2), **{"relevant_positions": [-1], **kwargs})


def sweep(tmp_path, **kwargs):
    arguments = {"run": lambda config, seeds: [], "out": tmp_path / "x.jsonl", "seeds": 1, "progress": False}
    return run_sweep([{"T": 2}], **{**arguments, **kwargs})


# (id, call taking tmp_path, argument the message must name, size guard?)
CASES = [
    # tasks
    ("regression T huge", lambda _: SingleLocationRegression(BIG, 4), "T", True),
    ("regression d huge", lambda _: SingleLocationRegression(64, 10**5), "d", True),
    ("regression T float", lambda _: SingleLocationRegression(64.0, 4), "T", False),
    ("regression B bool", lambda _: SingleLocationRegression(64, 4, B=True), "B", False),
    ("regression p bool", lambda _: SingleLocationRegression(64, 4, p=True), "p", False),
    ("regression p nan", lambda _: SingleLocationRegression(64, 4, p=NAN), "p", False),
    ("regression seed float", lambda _: SingleLocationRegression(64, 4, seed=1.5), "seed", False),
    ("regression seed negative", lambda _: SingleLocationRegression(64, 4, seed=-1), "seed", False),
    ("regression version", lambda _: SingleLocationRegression(64, 4, version="toy"), "version", False),
    ("regression feature str", lambda _: SingleLocationRegression(64, 4, feature="no"), "feature", False),
    ("regression teacher", lambda _: SingleLocationRegression(64, 4, teacher="uniform"), "teacher", False),
    ("regression batch huge", lambda _: TASK.sample(BIG), "batch_size", True),
    ("regression batch float", lambda _: TASK.sample(2.5), "batch_size", False),
    ("regression mask batch huge", lambda _: TASK.relevant_mask(10**12), "batch_size", True),
    ("recall n_tokens huge", lambda _: AssociativeRecall(3, n_tokens=BIG), "n_tokens", True),
    ("recall p bool", lambda _: AssociativeRecall(3, 8, p=True), "p", False),
    ("recall B inf", lambda _: AssociativeRecall(3, 8, B=INF), "B", False),
    ("recall seed float", lambda _: AssociativeRecall(3, 8, seed=1.5), "seed", False),
    ("recall batch huge", lambda _: AssociativeRecall(3, 8).sample(BIG), "batch_size", True),
    ("check_sizes p inf", lambda _: check_sizes(64, 4, p=INF), "p", False),
    ("teacher d huge", lambda _: teacher_matrix(10**5), "d", True),
    # theory
    ("toy T huge", lambda _: ToyAttention(BIG, 4), "T", True),
    ("toy d bool", lambda _: ToyAttention(64, True), "d", False),
    ("expected_loss p bool", lambda _: loss(p=True), "p", False),
    ("expected_loss p nan", lambda _: loss(p=NAN), "p", False),
    ("expected_loss positions float", lambda _: loss(relevant_positions=[1.7]), "relevant_positions", False),
    ("reduced n_points huge", lambda _: reduced.reduced_dynamics(64, 4, n_points=BIG), "n_points", True),
    ("reduced n_points float", lambda _: reduced.reduced_dynamics(64, 4, n_points=2.5), "n_points", False),
    ("reduced t_max nan", lambda _: reduced.reduced_dynamics(64, 4, t_max=NAN), "t_max", False),
    ("reduced threshold nan", lambda _: reduced.plateau_length(64, 4, threshold=NAN), "threshold", False),
    ("reduced p bool", lambda _: reduced.plateau_length(64, 4, p=True), "p", False),
    ("reduced grid huge", lambda _: reduced.plateau_lengths(np.full((10**5, 1), 64), np.full((1, 10**5), 4)),
     "T", True),
    ("reduced eps nan", lambda _: reduced.escape_time(64, 4, eps=NAN), "eps", False),
    ("reduced scores", lambda _: reduced.linear_rate(64, 4, scores="both"), "scores", False),
    ("reduced n_evals huge", lambda _: reduced.evaluation_times(100.0, BIG), "n_evals", True),
    ("toy flow times nan", lambda _: reduced.toy_gradient_flow(8, 2, [0.0, NAN]), "times", False),
    ("toy flow times huge", lambda _: reduced.toy_gradient_flow(64, 10**4, np.arange(10.0)), "times", True),
    # models
    ("model layer_norm str", lambda _: TransformerConfig(4, 4, layer_norm="no"), "layer_norm", False),
    ("model causal int", lambda _: TransformerConfig(4, 4, causal=1), "causal", False),
    ("model n_layers bool", lambda _: TransformerConfig(4, 4, n_layers=True), "n_layers", False),
    ("model readout_init inf", lambda _: TransformerConfig(4, 4, readout_init=INF), "readout_init", False),
    ("model d_in huge", lambda _: TransformerConfig(BIG, 4), "d_in", True),
    # training
    ("train lr bool", lambda _: TrainConfig(lr=True), "lr", False),
    ("train stop_margin nan", lambda _: TrainConfig(stop_margin=NAN), "stop_margin", False),
    ("train escape_fraction nan", lambda _: TrainConfig(escape_fraction=NAN), "escape_fraction", False),
    ("train eval_size huge", lambda _: TrainConfig(eval_size=BIG), "eval_size", True),
    ("train progress str", lambda _: TrainConfig(progress="no"), "progress", False),
    ("train test_seed float", lambda _: TrainConfig(test_seed=1.5), "test_seed", False),
    ("train seeds float", lambda _: train(TASK, MODEL, QUICK, seeds=[1.7]), "seeds", False),
    ("train seeds negative", lambda _: train(TASK, MODEL, QUICK, seeds=[-1]), "seeds", False),
    ("train seeds str", lambda _: train(TASK, MODEL, QUICK, seeds="01"), "seeds", False),
    ("sgd lr nan", lambda _: train_sgd(4, 2, [0], steps=1, lr=NAN), "lr", False),
    ("sgd steps bool", lambda _: train_sgd(4, 2, [0], steps=True), "steps", False),
    ("sgd seeds float", lambda _: train_sgd(4, 2, [0.5], steps=1), "seeds", False),
    # schedules
    ("constant value bool", lambda _: ConstantSchedule(True), "value", False),
    ("switch step nan", lambda _: SwitchSchedule(0.5, 0.0, NAN), "switch_step", False),
    ("adaptive maximize str", lambda _: AdaptiveSchedule(0.5, maximize="yes"), "maximize", False),
    ("adaptive flat_drop nan", lambda _: AdaptiveSchedule(0.5, flat_drop=NAN), "flat_drop", False),
    ("adaptive min_evals float", lambda _: AdaptiveSchedule(0.5, min_evals=3.0), "min_evals", False),
    # measures and fits
    ("plateau_time empty", lambda _: plateau_time([], []), "losses", False),
    ("plateau_time fraction nan", lambda _: plateau_time([0, 1], [1, 0], fraction=NAN), "fraction", False),
    ("first_crossing level bool", lambda _: first_crossing([0, 1], [1, 0], level=True), "level", False),
    ("escape_step accuracy nan", lambda _: escape_step({"steps": [0], "test_acc": [0.0]}, accuracy=NAN),
     "accuracy", False),
    ("fit collinear", lambda _: fit_power_law(Y, T=X, d=X), "T", False),
    ("fit constant feature", lambda _: fit_power_law(Y, T=X, d=np.full(4, 8.0)), "d", False),
    ("fit fixed nan", lambda _: fit_power_law(Y, T=X, d=X[::-1] ** 0.5 * X, fixed={"T": NAN}), "fixed", False),
    ("fit tied nan", lambda _: fit_power_law(Y, T=X, d=X[::-1] ** 0.5 * X, tied={"T": NAN, "d": 1}), "tied", False),
    # sweeps and hardware
    ("sweep seeds float", lambda tmp: sweep(tmp, seeds=2.0), "seeds", False),
    ("sweep profile int", lambda tmp: sweep(tmp, profile=5), "profile", False),
    ("current_profile int", lambda _: current_profile(5), "name", False),
    ("bootstrap y nan", lambda _: bootstrap_stderr(np.append(Y, NAN), np.arange(5), T=np.append(X, 32.0)), "y", False),
    ("bootstrap feature zero", lambda _: bootstrap_stderr(Y, np.arange(4), T=np.array([0.0, 4, 8, 16])), "T", False),
    # issue 27: silent wrong answers, stray exceptions and memory past the guards
    ("linear_rate T zero", lambda _: reduced.linear_rate(0, 4), "T", False),
    ("linear_rate d negative", lambda _: reduced.linear_rate(64, -1), "d", False),
    ("linear_rate B negative", lambda _: reduced.linear_rate(64, 4, B=-1), "B", False),
    ("linear_rate p above 1", lambda _: reduced.linear_rate(64, 4, p=2.0), "p", False),
    ("attention T zero", lambda _: reduced.attention(0.0, 0), "T", False),
    ("attention B zero", lambda _: reduced.attention(0.0, 64, B=0), "B", False),
    ("coefficients T zero", lambda _: reduced.coefficients(0, 4), "T", False),
    ("coefficients d negative", lambda _: reduced.coefficients(64, -1), "d", False),
    ("coefficients T bool", lambda _: reduced.coefficients(np.array([True]), 4), "T", False),
    ("coefficients T fractional", lambda _: reduced.coefficients(np.array([64.0, 2.5]), 4), "T", False),
    ("reduced_loss d zero", lambda _: reduced.reduced_loss(0.1, 0.0, 64, 0), "d", False),
    ("reduced_gradient T negative", lambda _: reduced.reduced_gradient(0.1, 0.0, -1, 4), "T", False),
    ("repetition_loss p above 1", lambda _: reduced.repetition_loss(0.0, 0.0, 0.0, 64, 4, 1.5), "p", False),
    ("repetition_speedup d zero", lambda _: reduced.repetition_speedup(0, 0.5), "d", False),
    ("repetition_speedup d negative", lambda _: reduced.repetition_speedup(-4, 0.5), "d", False),
    ("repetition_speedup p above 1", lambda _: reduced.repetition_speedup(16, 2.0), "p", False),
    ("w_inf T zero", lambda _: reduced.w_inf(0.5, 0, 4), "T", False),
    ("w_inf d zero", lambda _: reduced.w_inf(0.5, 64, 0), "d", False),
    ("hessian T zero", lambda _: reduced.hessian_eigenvalues(0.1, 0.0, 0, 4), "T", False),
    ("plateau_lengths T fractional", lambda _: reduced.plateau_lengths(np.array([2.5]), 4), "T", False),
    ("query_slots None", lambda _: query_slots(None), "tokens", False),
    ("query_slots float", lambda _: query_slots(torch.zeros(2, 3)), "tokens", False),
    ("query_slots negative id", lambda _: query_slots(torch.tensor([[-1, 2, 3]])), "tokens", False),
    ("regression generator str", lambda _: TASK.sample(4, generator="x"), "generator", False),
    ("regression device bad", lambda _: TASK.sample(4, device="gpu:x"), "device", False),
    ("recall n_tokens permutation huge", lambda _: AssociativeRecall(3, 2**28 + 1), "n_tokens", True),
    ("transformer n_models huge", lambda _: Transformer(MODEL, n_models=10**7), "n_models", True),
    ("transformer seeds float", lambda _: Transformer(MODEL, n_models=1, seeds=[1.5]), "seeds", False),
    ("transformer seeds bool", lambda _: Transformer(MODEL, n_models=1, seeds=[True]), "seeds", False),
    ("model n_layers huge", lambda _: TransformerConfig(4, 4, n_layers=10**6), "n_layers", False),
    ("model a million tiny layers", lambda _: TransformerConfig(4, 4, n_layers=10**6, d_model=2, d_qk=1, n_heads=1,
                                                               mlp_factor=1), "n_layers", False),
    ("model negative token id", lambda _: Transformer(TransformerConfig(8, 8, input_kind="onehot", d_model=8, d_qk=4))(
        torch.tensor([[[-1, 2, 3]]])), "x", False),
    ("sinusoidal length zero", lambda _: sinusoidal_positions(0, 8), "length", False),
    ("sinusoidal width negative", lambda _: sinusoidal_positions(4, -2), "width", False),
    ("sinusoidal huge", lambda _: sinusoidal_positions(10**6, 10**4), "length", True),
    ("alignment shape mismatch", lambda _: alignment(torch.zeros(2, 2), torch.zeros(3, 3)), "W", False),
    ("train seeds too many", lambda _: train(TASK, MODEL, QUICK, seeds=range(5000)), "seeds", False),
    ("escape_step record None", lambda _: escape_step(None, fraction=0.2), "record", False),
    ("escape_step record without steps", lambda _: escape_step({"test_loss": [1.0]}, fraction=0.2), "record", False),
    ("attention_step record None", lambda _: attention_step(None), "record", False),
    ("with_error negative", lambda _: with_error(1.0, -0.5), "stderr", False),
    ("exponent_verdict negative", lambda _: exponent_verdict(1.0, -0.1, 1.2), "stderr", False),
    ("value_verdict rel_tol bool", lambda _: value_verdict(1.0, 1.0, True), "rel_tol", False),
    ("value_verdict rel_tol negative", lambda _: value_verdict(1.0, 1.0, -1.0), "rel_tol", False),
    ("scorecard rel_tol bool", lambda _: Scorecard("x").value("w", 1.0, 1.0, True, "s"), "rel_tol", False),
    ("config_key nan", lambda _: config_key({"T": NAN}), "config['T']", False),
    ("config_key inf nested", lambda _: config_key({"lr": [1e-4, INF]}), "config['lr'][1]", False),
    ("config_key not a dict", lambda _: config_key([1, 2]), "config", False),
    ("sweep pack str", lambda tmp: sweep(tmp, pack="no"), "pack", False),
    ("sweep seeds huge", lambda tmp: sweep(tmp, seeds=10**9), "seeds", False),
    ("sweep seeds 31 digits", lambda tmp: sweep(tmp, seeds=10**30), "seeds", False),
    ("sweep device bad", lambda tmp: sweep(tmp, device="cpu:abc"), "device", False),
    ("device cpu:abc", lambda _: device("cpu:abc"), "device", False),
    ("device int", lambda _: device(0), "device", False),
    ("checks.real huge int", lambda _: checks.real("x", 10**400), "x", False),
    ("checks.probability huge int", lambda _: checks.probability("p", 10**400), "p", False),
]


def test_table_is_large():
    assert len(CASES) >= 120
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("call", "name", "size_guard"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_invalid_input_raises_value_error_naming_the_argument(call, name, size_guard, tmp_path):
    fastest = math.inf
    for _ in range(3 if size_guard else 1):
        start = time.perf_counter()
        with pytest.raises((ValueError, TypeError)) as info:
            call(tmp_path)
        fastest = min(fastest, time.perf_counter() - start)
    message = str(info.value)
    assert re.search(rf"(?<![\w']){re.escape(name)}(?![\w'])", message) or name.endswith("]") and name in message, message
    assert "\n" not in message, message
    if size_guard:
        assert f"{checks.MAX_ELEMENTS:,}" in message, message
        assert fastest < 0.01, f"{fastest:.3f} s: the guard must fire before allocating"
    assert not (tmp_path / "x.jsonl").exists()


# --- The checks themselves -----------------------------------------------------------------


def test_integers_are_ints_or_numpy_ints_never_bools():
    assert checks.integer("n", np.int64(5)) == 5 and type(checks.integer("n", np.int32(5))) is int
    assert checks.positive_int("n", 3) == 3
    for bad in (True, np.bool_(True), 2.0, "2", None, np.float64(2.0)):
        with pytest.raises(ValueError, match=r"^n must be"):
            checks.integer("n", bad)
    with pytest.raises(ValueError, match=r"^n must be a positive integer, got 0\.$"):
        checks.positive_int("n", 0)
    with pytest.raises(ValueError, match=r"^T must be an integer >= 2 \(one relevant token\), got 1\.$"):
        checks.integer("T", 1, minimum=2, why="one relevant token")
    with pytest.raises(ValueError, match=r"^B must be an integer in \[1, 3\], got 4\.$"):
        checks.integer("B", 4, minimum=1, maximum=3)


def test_reals_are_finite_and_never_bools():
    assert checks.real("x", np.float32(0.5)) == 0.5 and type(checks.real("x", np.int64(2))) is float
    for bad in (True, NAN, INF, -INF, "0.5", None, torch.tensor(0.5)):
        with pytest.raises(ValueError, match=r"^x must be a finite real number"):
            checks.real("x", bad)
    assert checks.real("lr", 1e-3, above=0) == 1e-3
    with pytest.raises(ValueError, match=r"^lr must be a finite real number > 0, got 0\.$"):
        checks.real("lr", 0, above=0)
    with pytest.raises(ValueError, match=r"^f must be a finite real number in \(0, 1\], got 1\.5\.$"):
        checks.real("f", 1.5, above=0, at_most=1)
    assert checks.probability("p", 0) == 0.0 and checks.probability("p", np.float64(1.0)) == 1.0
    with pytest.raises(ValueError, match=r"^p must be a probability in \[0, 1\], got 1\.5\.$"):
        checks.probability("p", 1.5)


def test_booleans_choices_and_seeds():
    assert checks.boolean("flag", np.bool_(False)) is False
    for bad in ("no", 1, 0, None, 1.0):
        with pytest.raises(ValueError, match=r"^flag must be True or False"):
            checks.boolean("flag", bad)
    assert checks.choice("kind", "a", ("a", "b")) == "a"
    for bad in ("c", ["a"], np.array(["a", "b"]), None):
        with pytest.raises(ValueError, match=r"^kind must be one of \('a', 'b'\)"):
            checks.choice("kind", bad, ("a", "b"))
    assert checks.seed_list("seeds", (np.int64(3), 0)) == [3, 0]
    for bad, why in (([], "empty"), ([1, 1], "repeat"), ([1.7], "non-negative integers"),
                     ([-1], "non-negative integers"), (2.0, "list"), ("01", "list"), ([2**64], "non-negative")):
        with pytest.raises(ValueError, match=rf"^seeds must .*{why}"):
            checks.seed_list("seeds", bad)


def test_size_guard_names_the_limit_and_allows_the_limit_itself():
    checks.elements("batch_size", checks.MAX_ELEMENTS, "a batch")
    with pytest.raises(ValueError, match=r"^batch_size is too large: a batch of 536,870,913 elements"):
        checks.elements("batch_size", checks.MAX_ELEMENTS + 1, "a batch")
    # The largest tensor any profile draws: chapter 0's laptop sample, 8192 x 2048 x 32.
    checks.elements("samples", 8192 * 2048 * 32, "the sample")


def test_a_run_that_diverged_at_step_0_has_no_plateau_to_leave():
    """The record a sweep writes for it stores its losses as null (issue 27): the escape is never."""
    record = {"steps": [0, 10], "test_loss": [None, None], "train_loss": [None, None]}
    assert escape_step(record, fraction=0.2) == math.inf
    assert escape_step({"steps": [0, 10, 20], "test_loss": [1.0, None, 0.1]}, fraction=0.2) == 20


def test_theory_accepts_integral_float_grids():
    """Grids of T and d built with numpy floats stay valid; only non-integers are refused."""
    assert np.allclose(reduced.coefficients(np.array([64.0, 128.0]), 8.0).T, [64, 128])
    assert reduced.repetition_speedup(np.array([16.0, 64.0]), 0.5).shape == (2,)
