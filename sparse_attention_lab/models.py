"""A small, configurable Transformer: every knob of the paper's Table 1 is a config field.

The model is an *ensemble*: ``Transformer(config, n_models=E)`` holds ``E`` independent
models whose parameters are stacked along a leading model dimension, so ``E`` seeds train
as one batched computation. Member ``e`` is initialised exactly as a single model built with
``seeds[e]``; Adam and SGD act elementwise, so training the stacked parameters on the *sum*
of the members' losses trains every member exactly as it would train alone.

Two input kinds (Sections 2.4 and 3 of the paper):

- ``"vector"`` (single-location regression): ``x`` of shape ``(E, batch, T, d_in)``. A zero
  *readout token* is appended after the ``T`` tokens and the prediction (``d_out`` numbers)
  is read there, so the relevant token is never the readout itself (PAPER.md decision 5).
- ``"onehot"`` (associative recall): ``x`` of shape ``(E, batch, T)`` holding token ids; the
  logits over the vocabulary are read at the last position (the query).

Each block is ``h <- h + attention(norm(h))`` then ``h <- h + mlp(norm(h))``: pre-norm, where
``norm`` is a layer norm when ``layer_norm`` is on and the identity otherwise, and the skip
``h +`` is dropped when ``skip`` is off.

Only the last position feeds the prediction, so by default (``readout_only``) the last block
computes its keys and values at every position but its query, attention output and MLP at
the last position only: the same function (to float rounding) at a fraction of that block's
cost. A forward pass that returns attention maps runs every block in full.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sparse_attention_lab.tasks import checks

INPUT_KINDS = ("vector", "onehot")
READOUTS = ("appended", "last", "flagged")
POSITION_JOINS = ("add", "concat")
INITS = ("normal", "pytorch")


MAX_LAYERS = 256
"""Layers a :class:`TransformerConfig` accepts at most."""


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of the Transformer (Table 1 of the paper; defaults: linear regression).

    ``d_qk`` is the query/key width *per head*; the value width per head is
    ``d_model // n_heads``. ``readout_init`` scales the initial readout weights: a small
    readout starts every member near the zero prediction, hence near the plateau loss of
    about 1/2, like ``W = 0`` in the toy model; zero is allowed. ``readout_only`` runs the
    last block's query, attention output and MLP at the readout position only (see the module
    docstring): a speed option, not a change of architecture.

    Choices the paper leaves open (PAPER.md decision 5 fixes our defaults):

    - ``readout_position``: ``"appended"`` reads the prediction at a zero token appended after
      the ``T`` tokens (ours); ``"last"`` at the last of the ``T`` tokens; ``"flagged"`` at the
      first token whose last input column (the relevant-token feature) is 1. Vector inputs only.
    - ``position_join``: the sinusoidal positions are ``"add"``-ed to the token embedding (ours)
      or ``"concat"``-enated to it, a quarter of the width (``d_model // 4``) holding them.
    - ``init``: ``"normal"`` draws weights ``N(0, 1/fan_in)`` with zero biases (ours);
      ``"pytorch"`` draws weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, the
      default of ``torch.nn.Linear``.
    """

    d_in: int
    d_out: int
    n_layers: int = 2
    n_heads: int = 4
    d_model: int = 256
    d_qk: int = 64
    mlp_factor: int = 4
    layer_norm: bool = False
    skip: bool = True
    mlp: bool = True
    positional: bool = True
    causal: bool = False
    input_kind: str = "vector"
    readout_init: float = 0.01
    readout_only: bool = True
    readout_position: str = "appended"
    position_join: str = "add"
    init: str = "normal"

    def __post_init__(self) -> None:
        for name in ("d_in", "d_out", "n_layers", "n_heads", "d_model", "d_qk", "mlp_factor"):
            object.__setattr__(self, name, checks.positive_int(name, getattr(self, name)))
        # Each layer is a Python module too: a million tiny layers would exhaust memory below the
        # parameter guard. The paper's models have 1-4 layers.
        checks.integer("n_layers", self.n_layers, maximum=MAX_LAYERS, why="one module each")
        for name in ("layer_norm", "skip", "mlp", "positional", "causal", "readout_only"):
            object.__setattr__(self, name, checks.boolean(name, getattr(self, name)))
        object.__setattr__(self, "readout_init", checks.real("readout_init", self.readout_init, at_least=0))
        width, heads = self.d_model, self.n_heads * self.d_qk
        checks.elements("d_in", self.d_in * width, "the input embedding of d_in x d_model")
        checks.elements("d_out", width * self.d_out, "the readout of d_model x d_out")
        checks.elements("d_qk", width * heads, "a query map of d_model x n_heads d_qk")
        checks.elements("mlp_factor", width * width * self.mlp_factor, "an MLP layer of d_model x mlp_factor d_model")
        checks.elements("n_layers", self.parameters, "the n_layers blocks' parameters")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"n_heads ({self.n_heads}) must divide d_model ({self.d_model}): "
                "each head gets d_model // n_heads value dimensions."
            )
        checks.choice("input_kind", self.input_kind, INPUT_KINDS)
        checks.choice("readout_position", self.readout_position, READOUTS)
        checks.choice("position_join", self.position_join, POSITION_JOINS)
        checks.choice("init", self.init, INITS)
        if self.readout_position != "appended" and self.input_kind != "vector":
            raise ValueError(f"readout_position {self.readout_position!r} needs vector inputs "
                             "(one-hot inputs are read at the query, the last token).")
        if self.input_kind == "onehot" and self.d_in != self.d_out:
            raise ValueError(
                f"for one-hot inputs d_in (vocabulary, {self.d_in}) must equal d_out ({self.d_out})."
            )

    @property
    def parameters(self) -> int:
        """Parameters of one model, to the leading terms: input embedding, blocks (attention and
        MLP weights) and readout (what the size guards count)."""
        width, heads = self.d_model, self.n_heads * self.d_qk
        per_layer = 2 * width * heads + 2 * width * width + 2 * self.mlp_factor * width * width
        return self.d_in * width + self.n_layers * per_layer + width * self.d_out

    @property
    def position_width(self) -> int:
        """Width of the positional code: ``d_model`` when added, ``d_model // 4`` when concatenated."""
        return self.d_model if self.position_join == "add" else self.d_model // 4

    @property
    def d_value(self) -> int:
        """Value width per head."""
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        """The config as a plain JSON-able dict."""
        return asdict(self)


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """The sinusoidal positional encoding of Vaswani et al. (2017), shape ``(length, width)``."""
    length, width = checks.positive_int("length", length), checks.positive_int("width", width)
    checks.elements("length", length * width, "a positional table of length x width")
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(-math.log(10_000.0) * torch.arange(0, width, 2, dtype=torch.float32) / width)
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class EnsembleLinear(nn.Module):
    """``E`` independent affine maps ``x_e W_e + b_e`` stored as ``(E, d_in, d_out)`` weights."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(E, ..., d_in)`` -> ``(E, ..., d_out)``."""
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        out = torch.baddbmm(self.bias[:, None, :], flat, self.weight)
        return out.reshape(*x.shape[:-1], out.shape[-1])


class EnsembleLayerNorm(nn.Module):
    """Layer norm with a separate gain and bias per ensemble member (identity when off)."""

    def __init__(self, n_models: int, width: int, enabled: bool) -> None:
        super().__init__()
        self.enabled = enabled
        if enabled:
            self.gain = nn.Parameter(torch.ones(n_models, width))
            self.bias = nn.Parameter(torch.zeros(n_models, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        normed = F.layer_norm(x, x.shape[-1:])
        return normed * self.gain.reshape(shape) + self.bias.reshape(shape)


class _Initializer:
    """Draws every parameter of every member from that member's own generator, in one order.

    ``"normal"``: weights ``N(0, scale^2 / fan_in)``, biases zero. ``"pytorch"``: weights and
    biases ``scale * U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, weight then bias. Either way member
    ``e`` of an ensemble equals a single model built with seed ``seeds[e]``.
    """

    def __init__(self, seeds: list[int], kind: str = "normal") -> None:
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.kind = kind

    def linear(self, fan_in: int, fan_out: int, scale: float = 1.0) -> EnsembleLinear:
        bound = scale / math.sqrt(fan_in)
        if self.kind == "normal":
            weight = torch.stack([torch.randn(fan_in, fan_out, generator=g) * bound for g in self.generators])
            return EnsembleLinear(weight, torch.zeros(len(self.generators), fan_out))
        weights, biases = [], []
        for g in self.generators:
            weights.append((2 * torch.rand(fan_in, fan_out, generator=g) - 1) * bound)
            biases.append((2 * torch.rand(fan_out, generator=g) - 1) * bound)
        return EnsembleLinear(torch.stack(weights), torch.stack(biases))


class Attention(nn.Module):
    """Multi-head self-attention for an ensemble (Eq. 1 of Vaswani et al.)."""

    def __init__(self, config: TransformerConfig, init: _Initializer) -> None:
        super().__init__()
        self.config = config
        h = config.n_heads
        self.query = init.linear(config.d_model, h * config.d_qk)
        self.key = init.linear(config.d_model, h * config.d_qk)
        self.value = init.linear(config.d_model, h * config.d_value)
        self.out = init.linear(h * config.d_value, config.d_model)

    def forward(
        self, x: torch.Tensor, return_attention: bool, last_query_only: bool = False, readout_row: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` ``(E, batch, T, d_model)`` -> output ``(E, batch, T_q, d_model)``, and maps
        ``(E, batch, heads, T_q, T)`` if asked; ``T_q = 1`` (the last position's query) with
        ``last_query_only``, else ``T``. ``readout_row`` returns only the last position's row of
        the map, ``(E, batch, heads, 1, T)``, without ever holding the full map."""
        E, batch, T, _ = x.shape
        h, c = self.config.n_heads, self.config
        queries = x[:, :, -1:] if last_query_only else x  # (E, batch, T_q, d_model)
        T_q = queries.shape[2]

        def split(t: torch.Tensor) -> torch.Tensor:  # (E, batch, n, h*w) -> (E*batch, h, n, w)
            return t.reshape(E * batch, t.shape[2], h, -1).transpose(1, 2)

        q, k, v = split(self.query(queries)), split(self.key(x)), split(self.value(x))
        causal = c.causal and not last_query_only  # the last position sees every position
        maps = None
        if return_attention:
            scores = q @ k.transpose(-1, -2) / math.sqrt(c.d_qk)
            if causal:
                future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
                scores = scores.masked_fill(future, float("-inf"))
            weights = scores.softmax(dim=-1)
            mixed = weights @ v
            maps = weights.reshape(E, batch, h, T_q, T)
        else:
            mixed = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            if readout_row:  # the last position sees every position: no causal mask on its row
                row = (q[:, :, -1:] @ k.transpose(-1, -2) / math.sqrt(c.d_qk)).softmax(dim=-1)
                maps = row.reshape(E, batch, h, 1, T)
        mixed = mixed.transpose(1, 2).reshape(E, batch, T_q, h * c.d_value)
        return self.out(mixed), maps


class Block(nn.Module):
    """One Transformer layer: attention, then (optionally) a ReLU MLP, each pre-normed."""

    def __init__(self, config: TransformerConfig, init: _Initializer, n_models: int) -> None:
        super().__init__()
        self.skip = config.skip
        self.attention_norm = EnsembleLayerNorm(n_models, config.d_model, config.layer_norm)
        self.attention = Attention(config, init)
        self.has_mlp = config.mlp
        if config.mlp:
            hidden = config.mlp_factor * config.d_model
            self.mlp_norm = EnsembleLayerNorm(n_models, config.d_model, config.layer_norm)
            self.mlp_in = init.linear(config.d_model, hidden)
            self.mlp_out = init.linear(hidden, config.d_model)

    def _add(self, h: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        return h + update if self.skip else update

    def forward(
        self, h: torch.Tensor, return_attention: bool, last_position_only: bool = False, readout_row: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``h`` ``(E, batch, T, d_model)`` -> ``(E, batch, T, d_model)``, or the last position
        only, ``(E, batch, 1, d_model)``, with ``last_position_only`` (keys and values still
        come from every position); the map, or its last row, as :class:`Attention` gives it."""
        update, maps = self.attention(self.attention_norm(h), return_attention, last_position_only, readout_row)
        h = self._add(h[:, :, -1:] if last_position_only else h, update)
        if self.has_mlp:
            h = self._add(h, self.mlp_out(F.relu(self.mlp_in(self.mlp_norm(h)))))
        return h, maps


class Transformer(nn.Module):
    """An ensemble of ``n_models`` independent Transformers (see the module docstring).

    ``seeds`` (default ``0 .. n_models - 1``) fixes each member's initialisation.
    """

    def __init__(self, config: TransformerConfig, n_models: int = 1, seeds: list[int] | None = None) -> None:
        super().__init__()
        n_models = checks.positive_int("n_models", n_models)
        checks.elements("n_models", n_models * config.parameters,
                        f"an ensemble of n_models x {config.parameters:,} parameters")
        seeds = list(range(n_models)) if seeds is None else checks.seed_list("seeds", seeds, distinct=False)
        if len(seeds) != n_models:
            raise ValueError(f"seeds must hold n_models = {n_models} entries, got {len(seeds)}.")
        self.config, self.n_models, self.seeds = config, n_models, seeds
        init = _Initializer(seeds, config.init)
        # with concatenated positions the token embedding fills the width the positions leave
        embed_width = config.d_model - (config.position_width if config.position_join == "concat" else 0)
        if config.input_kind == "onehot":
            self.embed = nn.Parameter(
                torch.stack([torch.randn(config.d_in, embed_width, generator=g) for g in init.generators])
            )
        else:
            self.embed_in = init.linear(config.d_in, embed_width)
        self.blocks = nn.ModuleList(Block(config, init, n_models) for _ in range(config.n_layers))
        self.final_norm = EnsembleLayerNorm(n_models, config.d_model, config.layer_norm)
        self.readout = init.linear(config.d_model, config.d_out, scale=config.readout_init)
        # The positional table, kept on the model's device and grown to the longest input seen.
        self.register_buffer("positions", torch.zeros(0, config.position_width), persistent=False)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.input_kind == "onehot":
            if x.dim() != 3 or x.dtype != torch.long:
                raise ValueError(f"x must be a LongTensor (n_models, batch, T), got {tuple(x.shape)} {x.dtype}.")
            if x.device.type == "cpu" and x.numel() and not (0 <= int(x.min()) and int(x.max()) < c.d_in):
                # (a negative id would read the last rows; checked on a CPU, where it costs no wait)
                raise ValueError(f"x must hold token ids in [0, {c.d_in}), got {int(x.min())} to {int(x.max())}.")
            members = torch.arange(self.n_models, device=x.device)[:, None, None]
            return self.embed[members, x]
        if x.dim() != 4 or x.shape[-1] != c.d_in:
            raise ValueError(f"x must have shape (n_models, batch, T, {c.d_in}), got {tuple(x.shape)}.")
        if c.readout_position != "appended":
            return self.embed_in(x)
        readout_token = x.new_zeros(*x.shape[:2], 1, c.d_in)
        return self.embed_in(torch.cat([x, readout_token], dim=2))

    def _positions(self, length: int) -> torch.Tensor:
        """The first ``length`` rows of the sinusoidal table ``(length, position_width)``, from the buffer."""
        if self.positions.shape[0] < length:  # computed once per length on the CPU, then kept
            self.positions = sinusoidal_positions(length, self.config.position_width).to(self.positions.device)
        return self.positions[:length]

    def _add_positions(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` ``(E, batch, n, width)`` with the positional code added or concatenated: ``(E, batch, n, d_model)``."""
        if not self.config.positional and self.config.position_join == "add":
            return h
        table = self._positions(h.shape[2])
        if not self.config.positional:
            table = torch.zeros_like(table)
        if self.config.position_join == "add":
            return h + table
        return torch.cat([h, table.expand(*h.shape[:2], -1, -1)], dim=-1)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False, readout_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Predictions ``(n_models, batch, d_out)`` read at the last position.

        With ``return_attention=True`` every block runs in full (``readout_only`` is ignored)
        and the call also returns one map per layer, of shape
        ``(n_models, batch, heads, T_q, T_k)`` (rows sum to 1; ``T + 1`` positions for vector
        inputs, the last being the readout token). ``readout_attention=True`` returns only the
        last position's row of each map, ``(n_models, batch, heads, 1, T_k)``: the memory of one
        row, not of ``T_k`` rows.
        """
        if x.shape[0] != self.n_models:
            raise ValueError(f"x must have a leading dimension n_models = {self.n_models}, got {x.shape[0]}.")
        # The residual stream stays float32 under bf16 autocast for both input kinds (a one-hot
        # lookup is float32, a linear embedding would be bf16): only the matrix products drop.
        flagged = self.config.readout_position == "flagged"
        if flagged and readout_attention:
            raise ValueError("readout_attention reads the last position's row; a 'flagged' readout "
                             "is elsewhere (use return_attention=True).")
        h = self._add_positions(self._embed(x).float())
        readout_only = self.config.readout_only and not return_attention and not flagged
        maps = []
        for index, block in enumerate(self.blocks):
            last = readout_only and index == len(self.blocks) - 1
            h, layer_maps = block(h, return_attention, last_position_only=last,
                                  readout_row=readout_attention and not return_attention)
            maps.append(layer_maps)
        if flagged:  # the first flagged token of each sequence, (E, batch, d_model)
            where = x[..., -1].gt(0.5).float().argmax(dim=-1)  # (E, batch)
            last = h.gather(2, where[..., None, None].expand(-1, -1, 1, h.shape[-1]))[:, :, 0]
        else:
            last = h[:, :, -1]
        out = self.readout(self.final_norm(last))
        return (out, maps) if return_attention or readout_attention else out

    def flops_per_sequence(self, T: int) -> int:
        """Multiply-adds x 2 of one forward pass on one sequence of ``T`` tokens (one member).

        Counts the matrix products (projections, attention scores and mixing, MLP), with the
        last block at the readout position only when ``readout_only`` is on; a training step
        costs about three times a forward pass.
        """
        c = self.config
        n = T + (c.input_kind == "vector" and c.readout_position == "appended")

        def block(n_queries: int) -> int:
            keys_values = n * c.d_model * c.n_heads * (c.d_qk + c.d_value)
            queries_out = n_queries * c.d_model * c.n_heads * (c.d_qk + c.d_value)
            mixing = n_queries * n * c.n_heads * (c.d_qk + c.d_value)
            mlp = 2 * n_queries * c.d_model * c.mlp_factor * c.d_model if c.mlp else 0
            return keys_values + queries_out + mixing + mlp

        embed = 0 if c.input_kind == "onehot" else n * c.d_in * c.d_model
        last = block(1 if c.readout_only and c.readout_position != "flagged" else n)
        readout = c.d_model * c.d_out
        return 2 * (embed + (c.n_layers - 1) * block(n) + last + readout)
