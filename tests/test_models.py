"""The Transformer: shapes, masks, attention maps, ensemble members, the readout-only last
block, config validation."""

import pytest
import torch

from sparse_attention_lab.models import Transformer, TransformerConfig, sinusoidal_positions

SMALL = {"d_model": 16, "n_heads": 2, "d_qk": 8, "mlp_factor": 2}


def vector_config(**overrides) -> TransformerConfig:
    return TransformerConfig(**{"d_in": 5, "d_out": 4, **SMALL, **overrides})


def onehot_config(**overrides) -> TransformerConfig:
    return TransformerConfig(**{"d_in": 11, "d_out": 11, "input_kind": "onehot", **SMALL, **overrides})


@pytest.mark.parametrize("n_layers", [1, 3])
def test_vector_shapes_and_readout_token(n_layers):
    model = Transformer(vector_config(n_layers=n_layers), n_models=3)
    x = torch.randn(3, 7, 6, 5)
    y, maps = model(x, return_attention=True)
    assert y.shape == (3, 7, 4)
    assert len(maps) == n_layers
    for layer in maps:  # T + 1 positions: the readout token is appended
        assert layer.shape == (3, 7, 2, 7, 7)


def test_onehot_shapes_read_last_position():
    model = Transformer(onehot_config(), n_models=2)
    tokens = torch.randint(0, 11, (2, 5, 9))
    logits, maps = model(tokens, return_attention=True)
    assert logits.shape == (2, 5, 11)
    assert maps[0].shape == (2, 5, 2, 9, 9)


@pytest.mark.parametrize("config", [vector_config(), vector_config(causal=True, layer_norm=True), onehot_config()])
def test_attention_rows_sum_to_one_and_maps_do_not_change_output(config):
    torch.manual_seed(0)
    model = Transformer(config, n_models=2)
    x = torch.randint(0, 11, (2, 3, 8)) if config.input_kind == "onehot" else torch.randn(2, 3, 8, 5)
    with torch.no_grad():
        y_maps, maps = model(x, return_attention=True)
        y_fast = model(x)  # scaled_dot_product_attention path
    torch.testing.assert_close(y_maps, y_fast, atol=1e-5, rtol=1e-5)
    for layer in maps:
        torch.testing.assert_close(layer.sum(-1), torch.ones(layer.shape[:-1]))
        assert (layer >= 0).all()


FAST_PATH_OPTIONS = [
    {},
    {"readout_only": False},
    {"layer_norm": True, "n_layers": 3},
    {"skip": False, "mlp": False, "positional": False},
    {"readout_position": "last", "position_join": "concat", "init": "pytorch"},
    {"readout_position": "flagged", "n_heads": 1, "d_qk": 16},
    {"input_kind": "onehot"},
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("options", FAST_PATH_OPTIONS)
def test_fast_attention_gives_the_explicit_path_outputs_and_gradients(options, causal):
    """``scaled_dot_product_attention`` (training, evaluation) against the explicit softmax that
    returns the maps (probes): the same outputs and parameter gradients to float rounding."""
    config = (onehot_config if options.get("input_kind") == "onehot" else vector_config)(**options, causal=causal)
    model = Transformer(config, n_models=2, seeds=[1, 2])
    if config.input_kind == "onehot":
        x = torch.randint(0, 11, (2, 4, 9))
    else:
        x = torch.randn(2, 4, 9, 5)
        x[..., -1] = (torch.arange(9) == 3).float()  # a flagged token for the "flagged" readout
    target = torch.randn(2, 4, config.d_out)
    outputs, gradients = [], []
    for explicit in (False, True):
        model.zero_grad()
        y = model(x, return_attention=True)[0] if explicit else model(x)
        (y - target).pow(2).sum().backward()
        outputs.append(y.detach())
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters()})
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
    for name, grad in gradients[0].items():
        torch.testing.assert_close(grad, gradients[1][name], atol=1e-5, rtol=1e-4, msg=name)
    assert any(g.abs().sum() > 0 for g in gradients[0].values())


def test_causal_mask_hides_the_future():
    model = Transformer(vector_config(causal=True), n_models=1)
    _, maps = model(torch.randn(1, 2, 6, 5), return_attention=True)
    future = torch.ones(7, 7, dtype=torch.bool).triu(1)
    assert (maps[0][..., future] == 0).all()
    assert (maps[0][..., ~future] > 0).all()


def test_causal_output_ignores_later_tokens_onehot():
    model = Transformer(onehot_config(causal=True), n_models=1)
    tokens = torch.randint(0, 11, (1, 4, 6))
    changed = tokens.clone()
    changed[..., 2] = (changed[..., 2] + 1) % 11
    with torch.no_grad():  # the prefix up to position 1 cannot see position 2
        short = model(tokens[..., :2])
        short_changed = model(changed[..., :2])
    torch.testing.assert_close(short, short_changed)
    with torch.no_grad():
        assert not torch.allclose(model(tokens), model(changed))


def test_ensemble_member_equals_single_model_with_its_seed():
    config = vector_config(layer_norm=True)
    ensemble = Transformer(config, n_models=3, seeds=[4, 9, 2])
    single = Transformer(config, n_models=1, seeds=[9])
    x = torch.randn(3, 5, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(ensemble(x)[1:2], single(x[1:2]), atol=1e-6, rtol=1e-5)
        assert not torch.allclose(ensemble(x)[0], ensemble(x)[1])


def test_switches_change_the_function():
    x = torch.randn(1, 3, 6, 5)
    outputs = []
    for overrides in ({}, {"skip": False}, {"mlp": False}, {"positional": False}, {"layer_norm": True}):
        with torch.no_grad():
            outputs.append(Transformer(vector_config(**overrides), n_models=1, seeds=[0])(x))
    for i in range(1, len(outputs)):
        assert not torch.allclose(outputs[0], outputs[i])


def test_small_readout_starts_near_zero_prediction():
    model = Transformer(vector_config(d_model=64, n_heads=4, readout_init=0.01), n_models=1)
    with torch.no_grad():
        assert model(torch.randn(1, 64, 6, 5) / 5**0.5).abs().mean() < 0.05


READOUT_ONLY_CASES = [
    vector_config(),
    vector_config(n_layers=1),
    vector_config(n_layers=3, layer_norm=True, causal=True),
    vector_config(skip=False, mlp=False, positional=False),
    onehot_config(causal=True),
    onehot_config(n_layers=1, layer_norm=True),
]


@pytest.mark.parametrize("config", READOUT_ONLY_CASES)
def test_readout_only_last_block_gives_the_full_model_outputs_and_gradients(config):
    full_config = TransformerConfig(**{**config.to_dict(), "readout_only": False})
    fast = Transformer(config, n_models=2, seeds=[3, 5])
    full = Transformer(full_config, n_models=2, seeds=[3, 5])
    x = torch.randint(0, 11, (2, 4, 9)) if config.input_kind == "onehot" else torch.randn(2, 4, 9, 5)
    target = torch.randn(2, 4, config.d_out)
    outputs, gradients = [], []
    for model in (fast, full):
        y = model(x)
        (y - target).pow(2).sum().backward()
        outputs.append(y.detach())
        gradients.append({name: p.grad for name, p in model.named_parameters()})
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
    assert gradients[0].keys() == gradients[1].keys()
    for name, grad in gradients[0].items():
        torch.testing.assert_close(grad, gradients[1][name], atol=1e-5, rtol=1e-4, msg=name)
    assert any(g.abs().sum() > 0 for g in gradients[0].values())


def test_readout_only_is_the_default_and_cuts_the_last_block_flops():
    fast, full = vector_config(), vector_config(readout_only=False)
    assert fast.readout_only
    n_full = Transformer(full, n_models=1).flops_per_sequence(32)
    n_fast = Transformer(fast, n_models=1).flops_per_sequence(32)
    one_layer_full = Transformer(vector_config(n_layers=1, readout_only=False), n_models=1).flops_per_sequence(32)
    assert n_fast < n_full
    assert n_full - n_fast < one_layer_full  # the last block still computes keys and values


def test_maps_are_full_even_with_readout_only():
    model = Transformer(vector_config(readout_only=True), n_models=1)
    _, maps = model(torch.randn(1, 2, 6, 5), return_attention=True)
    assert all(layer.shape == (1, 2, 2, 7, 7) for layer in maps)


def test_sinusoidal_positions_are_bounded_and_distinct():
    table = sinusoidal_positions(10, 8)
    assert table.shape == (10, 8)
    assert table.abs().max() <= 1
    assert torch.cdist(table, table).add(torch.eye(10)).min() > 0


def test_flops_grow_with_length_and_layers():
    model = Transformer(vector_config(), n_models=1)
    deeper = Transformer(vector_config(n_layers=4), n_models=1)
    assert model.flops_per_sequence(32) > model.flops_per_sequence(16) > 0
    assert deeper.flops_per_sequence(16) > model.flops_per_sequence(16)


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"n_heads": 3}, "n_heads"),
        ({"d_qk": 0}, "d_qk"),
        ({"n_layers": -1}, "n_layers"),
        ({"input_kind": "image"}, "input_kind"),
        ({"readout_init": -0.1}, "readout_init"),
        ({"d_model": 2.5}, "d_model"),
        ({"readout_only": 1}, "readout_only"),
        # Issue 17 item 6: a string is not a switch ("no" used to turn layer norm on).
        ({"layer_norm": "no"}, "layer_norm"),
        ({"skip": "False"}, "skip"),
        ({"readout_init": float("inf")}, "readout_init"),
        # Issue 17 item 4: a 10^9-token embedding is refused before it is allocated.
        ({"d_in": 10**9}, "d_in is too large"),
    ],
)
def test_invalid_config_names_the_argument(overrides, name):
    with pytest.raises(ValueError, match=name):
        vector_config(**overrides)


def test_invalid_ensemble_and_inputs():
    with pytest.raises(ValueError, match="n_models"):
        Transformer(vector_config(), n_models=0)
    with pytest.raises(ValueError, match="seeds"):
        Transformer(vector_config(), n_models=2, seeds=[1])
    model = Transformer(vector_config(), n_models=2)
    with pytest.raises(ValueError, match="n_models"):
        model(torch.randn(3, 1, 4, 5))
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.randn(2, 1, 4, 6))
    with pytest.raises(ValueError, match="d_in"):
        onehot_config(d_out=12)


def test_readout_attention_is_the_last_row_of_the_full_maps():
    """Issue 26 item 4: the probe reads one row per layer without holding the (T+1) x (T+1) maps."""
    config = TransformerConfig(5, 3, n_layers=2, n_heads=2, d_model=16, d_qk=8, causal=True)
    model = Transformer(config, n_models=2)
    x = torch.randn(2, 4, 12, 5)
    out_full, maps = model(x, return_attention=True)
    out_rows, rows = model(x, readout_attention=True)
    torch.testing.assert_close(out_rows, out_full, rtol=1e-5, atol=1e-6)
    for full, row in zip(maps, rows, strict=True):
        assert row.shape == (2, 4, 2, 1, 13)
        torch.testing.assert_close(row[:, :, :, 0], full[:, :, :, -1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("input_kind", ["vector", "onehot"])
def test_the_residual_stream_is_float32_under_bf16_autocast_for_both_input_kinds(input_kind):
    """Issue 26 item 8: regression's linear embedding made its residual stream bf16 under autocast,
    while recall's one-hot lookup kept float32; the precision comparison treated them as alike."""
    config = TransformerConfig(8, 8, n_layers=2, n_heads=2, d_model=16, d_qk=8, input_kind=input_kind)
    model = Transformer(config, n_models=1)
    seen = []
    model.blocks[1].register_forward_pre_hook(lambda module, args: seen.append(args[0].dtype))
    x = torch.randint(0, 8, (1, 2, 5)) if input_kind == "onehot" else torch.randn(1, 2, 5, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(x)
    assert seen == [torch.float32]


# --------------------------------------------------------------------------- the paper's open choices


def test_a_last_token_readout_appends_nothing():
    model = Transformer(vector_config(readout_position="last"), n_models=2)
    x = torch.randn(2, 3, 6, 5)
    y, maps = model(x, return_attention=True)
    assert y.shape == (2, 3, 4) and maps[0].shape == (2, 3, 2, 6, 6)
    full = Transformer(vector_config(readout_position="last", readout_only=False), n_models=2)
    full.load_state_dict(model.state_dict())
    torch.testing.assert_close(full(x), model(x), rtol=1e-5, atol=1e-6)
    assert model.flops_per_sequence(6) < Transformer(vector_config(), n_models=1).flops_per_sequence(6)


def test_a_flagged_readout_reads_the_flagged_token():
    model = Transformer(vector_config(readout_position="flagged"), n_models=1)
    x = torch.randn(1, 4, 6, 5)
    x[..., -1] = 0.0
    where = torch.tensor([0, 2, 5, 3])
    x[0, torch.arange(4), where, -1] = 1.0
    y = model(x)
    last = Transformer(vector_config(readout_position="last", readout_only=False), n_models=1)
    last.load_state_dict(model.state_dict())
    for b, t in enumerate(where.tolist()):  # the same function read at the flagged row
        _, maps = last(x[:, b:b + 1], return_attention=True)
        h = last._add_positions(last._embed(x[:, b:b + 1]).float())
        for block in last.blocks:
            h, _ = block(h, return_attention=False)
        expected = last.readout(last.final_norm(h[:, :, t]))
        torch.testing.assert_close(y[:, b:b + 1], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="flagged"):
        model(x, readout_attention=True)


def test_concatenated_positions_fill_a_quarter_of_the_width():
    config = vector_config(position_join="concat")
    assert config.position_width == 4
    model = Transformer(config, n_models=2)
    assert model.embed_in.weight.shape == (2, 5, 12)
    x = torch.randn(2, 3, 6, 5)
    h = model._add_positions(model._embed(x))
    assert h.shape == (2, 3, 7, 16)
    torch.testing.assert_close(h[0, 1, :, 12:], sinusoidal_positions(7, 4))
    assert model(x).shape == (2, 3, 4)


def test_pytorch_initialisation_is_uniform_within_its_bound():
    model = Transformer(vector_config(d_model=64, n_heads=4, init="pytorch"), n_models=1)
    weight, bias = model.blocks[0].mlp_in.weight, model.blocks[0].mlp_in.bias
    bound = 1 / 64**0.5
    assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound
    assert bias.abs().max() <= bound and bias.abs().max() > 0
    assert float(weight.std()) == pytest.approx(bound / 3**0.5, rel=0.05)
    ours = Transformer(vector_config(d_model=64, n_heads=4), n_models=1)
    assert ours.blocks[0].mlp_in.bias.abs().max() == 0


@pytest.mark.parametrize(("overrides", "name"), [
    ({"readout_position": "middle"}, "readout_position"), ({"position_join": "mul"}, "position_join"),
    ({"init": "xavier"}, "init"),
])
def test_open_choices_refuse_unknown_readings(overrides, name):
    with pytest.raises(ValueError, match=name):
        vector_config(**overrides)
    with pytest.raises(ValueError, match="vector"):
        onehot_config(readout_position="last")
