"""Inside the Transformer: the end-to-end alignment, the lead, the shortcut ablation, the sweeps."""

import numpy as np
import pytest
import torch

from sparse_attention_lab.analysis import mechanism as analysis
from sparse_attention_lab.experiments import mechanism, regression
from sparse_attention_lab.models import Transformer, TransformerConfig
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.tasks import SingleLocationRegression
from sparse_attention_lab.theory.toy import ToyAttention, alignment
from sparse_attention_lab.training.probes import end_to_end_alignment

TINY = {"d_model": 16, "n_heads": 2, "d_qk": 8, "mlp_factor": 2, "max_steps": 60, "eval_every": 20,
        "eval_size": 32, "lr": 3e-3, "T": 8, "d": 4}


def test_alignment_of_the_toy_model_is_attention_times_w():
    torch.manual_seed(0)
    T, d = 6, 4
    toy = ToyAttention(T, d)
    with torch.no_grad():
        toy.a.normal_()
        toy.W.normal_()
    W_star = torch.randn(d, d)
    x = torch.randn(2 * d, T, d)
    positions = torch.full((2 * d,), T - 1)
    m = end_to_end_alignment(lambda inputs: toy(inputs[0])[None], x, positions, W_star)
    expected = toy.attention()[-1] * alignment(toy.W, W_star) / W_star.norm()
    torch.testing.assert_close(m, expected[None].detach(), atol=1e-6, rtol=1e-5)


def test_alignment_is_the_exact_jacobian_projection_on_one_sequence():
    config = TransformerConfig(d_in=4, d_out=3, d_model=16, n_heads=2, d_qk=8, mlp_factor=2, readout_init=1.0)
    model = Transformer(config, n_models=2)
    W_star = torch.randn(3, 3)
    sequence = torch.randn(5, 4)
    x = sequence.expand(6, 5, 4)  # the same sequence, every output row probed twice
    positions = torch.full((6,), 2)
    m = end_to_end_alignment(model, x, positions, W_star)
    for e in range(2):
        def f(tokens, e=e):
            return model(tokens.expand(2, 1, 5, 4))[e, 0]
        J = torch.autograd.functional.jacobian(f, sequence[None])[:, 0, 2, :3]  # (d_out, d)
        torch.testing.assert_close(m[e], (J * W_star).sum() / W_star.pow(2).sum(), atol=1e-5, rtol=1e-4)


def test_alignment_rejects_bad_shapes():
    model = Transformer(TransformerConfig(d_in=4, d_out=3, d_model=16, n_heads=2, d_qk=8), n_models=1)
    with pytest.raises(ValueError, match="multiple of d"):
        end_to_end_alignment(model, torch.randn(4, 5, 4), torch.zeros(4, dtype=torch.long), torch.eye(3))
    with pytest.raises(ValueError, match="positions"):
        end_to_end_alignment(model, torch.randn(3, 5, 4), torch.zeros(2, dtype=torch.long), torch.eye(3))


def test_signed_repeat_gives_the_repeated_targets_zero_mean():
    plain = SingleLocationRegression(T=8, d=4, p=1.0)
    signed = SingleLocationRegression(T=8, d=4, p=1.0, signed_repeat=True)
    _, y_plain = plain.sample(4000, torch.Generator().manual_seed(0))
    _, y_signed = signed.sample(4000, torch.Generator().manual_seed(0))
    target = plain.W_star @ plain.special_token
    torch.testing.assert_close(y_plain, target.expand(4000, 4))
    assert torch.allclose(y_signed.abs(), target.abs().expand(4000, 4))
    assert y_signed.mean(0).norm() < 0.05 * target.norm()


def test_lead_is_positive_when_the_weights_move_first():
    t = np.arange(10.0)
    w = np.array([0, 0.2, 0.5, 1, 1, 1, 1, 1, 1, 1])
    alpha = np.array([0.01, 0.01, 0.01, 0.01, 0.01, 0.5, 1, 1, 1, 1])
    # w covers 10% of its rise at t = 0.5; alpha at 0.01 + 0.099 = 0.109, i.e. t = 4 + 0.099 / 0.49
    assert analysis.lead(t, w, alpha) == pytest.approx(4.0 + 0.099 / 0.49 - 0.5)
    assert analysis.lead(t, alpha, w) == -analysis.lead(t, w, alpha)
    with pytest.raises(ValueError, match="fraction"):
        analysis.moved_at(t, w, fraction=1.5)
    with pytest.raises(ValueError, match="end above"):
        analysis.moved_at(t, w[::-1])


def test_toy_lead_weights_first():
    result = analysis.toy_lead(32, 8)
    assert result["lead"] > 0 and 0 < result["relative"] < 1


@pytest.mark.parametrize("overrides", [{}, {"feature": False, "position": "fixed"}, {"p": 0.5, "signed_repeat": True}])
def test_run_logs_alignment_and_attention(overrides):
    records = mechanism.run({**TINY, **overrides}, seeds=[0, 1])
    assert len(records) == 2
    for record in records:
        n_evals = len(record["steps"])
        assert len(record["probes"]["alignment"]) == n_evals
        assert np.asarray(record["probes"]["readout_attention"]).shape == (n_evals, 2, 2)
        assert np.all(np.isfinite(analysis.weight_side(record)))
        assert record["config"] == {**TINY, **overrides}
    assert records[0]["settings"]["task"]["signed_repeat"] == overrides.get("signed_repeat", False)


def test_alignment_grows_when_the_model_learns():
    records = mechanism.run({**TINY, "max_steps": 400, "eval_every": 100, "stop_margin": None}, seeds=[0])
    alignment_curve = records[0]["probes"]["alignment"]
    assert alignment_curve[-1] > 0.5 > abs(alignment_curve[0])


@pytest.mark.parametrize("name", list(mechanism.SWEEPS))
@pytest.mark.parametrize("profile", ["ci", "laptop"])
def test_sweeps_build(name, profile):
    configs = mechanism.SWEEPS[name](PROFILES[profile])
    assert configs
    for config in configs[:3]:
        regression.build(config)
    if name == "mech_shortcut":
        assert any(c.get("signed_repeat") for c in configs) and any(c["p"] == 0 for c in configs)
