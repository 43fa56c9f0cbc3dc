"""Attention probes: in [0, 1], and exactly 1 on a hand-built induction head (Fig. 17)."""

from __future__ import annotations

import pytest
import torch

from sparse_attention_lab.models import Transformer, TransformerConfig
from sparse_attention_lab.tasks import AssociativeRecall, query_slots
from sparse_attention_lab.training.probes import (
    RecallProbe,
    copy_attention,
    induction_score,
    repeated_random_tokens,
    selection_attention,
)
from sparse_attention_lab.views.attention_maps import (
    AttentionViewer,
    jump_checkpoints,
    snapshot_figure,
)

HEADS = 3


def uniform_causal(batch: int, length: int) -> torch.Tensor:
    """``(batch, T, T)`` maps attending uniformly to the past (rows sum to 1)."""
    rows = torch.ones(length, length).tril()
    return (rows / rows.sum(-1, keepdim=True)).expand(batch, length, length).clone()


def induction_head_maps(tokens: torch.Tensor) -> list[torch.Tensor]:
    """Two layers whose head 0 implements the induction head, other heads uniform.

    Layer 0, head 0: every token attends to the previous one (copy). Layer 1, head 0: the
    query spreads its attention over the values that follow its key (selection).
    """
    batch, length = tokens.shape
    copy = uniform_causal(batch, length)
    copy[:, 1:] = torch.eye(length)[:-1].expand(batch, length - 1, length)
    select = uniform_causal(batch, length)
    slots = query_slots(tokens).double()
    select[:, -1] = 0.0
    select[:, -1, 1:-1:2] = slots / slots.sum(-1, keepdim=True)
    layers = []
    for head0 in (copy, select):
        maps = uniform_causal(batch, length)[:, None].repeat(1, HEADS, 1, 1)
        maps[:, 0] = head0
        layers.append(maps[None])  # one model
    return layers


@pytest.mark.parametrize("B", [1.0, 3.0])
def test_copy_and_selection_are_one_on_a_hand_built_induction_head(B: float) -> None:
    tokens, _ = AssociativeRecall(6, 20, B=B).sample(50, torch.Generator().manual_seed(0))
    maps = induction_head_maps(tokens)
    copy, select = copy_attention(maps, tokens), selection_attention(maps, tokens)
    assert copy.shape == select.shape == (1, 2, HEADS)
    assert torch.allclose(copy[0, 0, 0], torch.tensor(1.0, dtype=copy.dtype))
    assert torch.allclose(select[0, 1, 0], torch.tensor(1.0, dtype=select.dtype))
    for score in (copy, select):
        assert (score >= 0).all() and (score <= 1).all()
    assert (select[0, 0] < 1).all() and (select[0, 1, 1:] < 1).all() and (copy[0, 1] < 1).all()
    assert (copy[0, 0, 1:] < 1).all()


def test_induction_score_is_one_on_an_induction_pattern_and_lower_otherwise() -> None:
    period, batch = 5, 4
    length = 2 * period
    ideal = uniform_causal(batch, length)
    for t in range(period, length):
        ideal[:, t] = 0.0
        ideal[:, t, t - period + 1] = 1.0
    maps = [torch.stack([ideal, uniform_causal(batch, length)], dim=1)[None]]
    score = induction_score(maps, period)
    assert score.shape == (1, 1, 2)
    assert score[0, 0, 0] == 1.0
    expected_uniform = torch.tensor([1 / (t + 1) for t in range(period, length)]).mean()
    assert torch.isclose(score[0, 0, 1], expected_uniform)


def test_repeated_random_tokens_repeat_distinct_tokens() -> None:
    tokens = repeated_random_tokens(8, 5, 12, torch.Generator().manual_seed(1))
    assert tokens.shape == (8, 10)
    assert torch.equal(tokens[:, :5], tokens[:, 5:])
    assert all(len(set(row[:5].tolist())) == 5 for row in tokens)


def test_probe_on_a_real_model_is_in_unit_interval() -> None:
    task = AssociativeRecall(4, 12, B=2)
    config = TransformerConfig(
        d_in=12, d_out=12, n_layers=2, n_heads=2, d_model=16, d_qk=8, layer_norm=True,
        causal=True, input_kind="onehot",
    )
    model = Transformer(config, n_models=2)
    probe = RecallProbe(task, n_sequences=32, keep_maps=True)
    out = probe(model, 0)
    for name in ("copy", "selection", "induction"):
        assert out[name].shape == (2, 2, 2)
        assert (out[name] >= 0).all() and (out[name] <= 1).all()
    assert out["maps"].shape == (2, 2, 2, task.seq_len, task.seq_len)
    assert torch.allclose(out["maps"].sum(-1), torch.ones(2, 2, 2, task.seq_len))
    assert probe.example_tokens.shape == (task.seq_len,)


def test_invalid_inputs() -> None:
    tokens, _ = AssociativeRecall(3, 8).sample(4)
    with pytest.raises(ValueError, match="maps"):
        copy_attention([], tokens)
    with pytest.raises(ValueError, match="maps"):
        selection_attention([torch.rand(1, 4, 2, 5, 5)], tokens)
    with pytest.raises(ValueError, match="period"):
        induction_score([torch.rand(1, 4, 2, 6, 6)], 4)
    with pytest.raises(ValueError, match="period"):
        repeated_random_tokens(2, 9, 8)
    with pytest.raises(ValueError, match="n_sequences"):
        RecallProbe(AssociativeRecall(3, 8), n_sequences=0)


def fake_record(n_checkpoints: int = 5, layers: int = 2, heads: int = 2, length: int = 7) -> dict:
    maps = torch.rand(n_checkpoints, layers, heads, length, length).softmax(-1)
    return {
        "steps": [100 * i for i in range(n_checkpoints)],
        "test_acc": [0.1, 0.12, 0.3, 0.8, 0.95][:n_checkpoints],
        "train_acc": [0.1, 0.15, 0.4, 0.85, 0.97][:n_checkpoints],
        "probes": {"maps": maps.tolist()},
    }


def test_jump_checkpoints_pick_plateau_jump_and_end() -> None:
    record = fake_record()
    assert jump_checkpoints(record, accuracy=0.5) == {"before": 1, "during": 3, "after": 4}
    with pytest.raises(ValueError, match="accuracy"):
        jump_checkpoints(record, accuracy=0.99)


def test_snapshot_and_viewer_draw_every_layer_and_head() -> None:
    record = fake_record()
    tokens, _ = AssociativeRecall(3, 8).sample(1)
    fig = snapshot_figure(record, tokens[0], accuracy=0.5)
    assert len(fig.subfigs) == 3 and all(len(sub.axes) == 4 for sub in fig.subfigs)
    capped = snapshot_figure(record, tokens[0], accuracy=0.99)  # never reached: start, middle, end
    assert [sub.get_suptitle().split(":")[0] for sub in capped.subfigs] == [
        f"{name} of a run without a jump to 99%" for name in ("start", "middle", "end")]
    viewer = AttentionViewer(record, tokens[0])
    first = viewer.image.value
    viewer.slider.value = 4
    assert viewer.image.value[:8] == b"\x89PNG\r\n\x1a\n" and viewer.image.value != first
    with pytest.raises(ValueError, match="maps"):
        AttentionViewer({"steps": [0], "test_acc": [0.0], "probes": {}}, tokens[0])
