"""The paper's reported laws, each with where it is reported (one home for the paper's numbers).

Every law is ``T_pl = C * prod(x ** exponent)``; ``source`` names the figure or section that
reports it and ``note`` says where the text is ambiguous (PAPER.md keeps the same table).
Numbers the paper reports outside a law (Fig. 1c's R^2) are in :data:`VALUES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PaperLaw:
    """A power law the paper fits: prefactor ``C``, exponents by variable, source and caveat."""

    C: float
    exponents: dict[str, float]
    source: str
    note: str = ""
    r2: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def figure(self) -> str:
        """The figure that reports the law, e.g. ``"Fig. 15"`` (the first one its ``source`` names)."""
        return re.search(r"\bFig\. \d+", self.source).group(0)

    @property
    def values(self) -> dict[str, float]:
        """``{"C": C, **exponents}``: the form the fit tables take."""
        return {"C": self.C, **self.exponents}

    def steps(self, **x: float) -> float:
        """The law's plateau length at the variables ``x`` (every exponent's variable given)."""
        missing = sorted(set(self.exponents) - set(x))
        if missing:
            raise ValueError(f"give {missing} to evaluate the law of {self.source}.")
        value = self.C
        for name, exponent in self.exponents.items():
            value *= float(x[name]) ** exponent
        return value


LAWS: dict[str, PaperLaw] = {
    "Fig. 2 left": PaperLaw(1.51, {"T": 0.99, "B": -0.99, "d": 0.49}, "Fig. 2 (left), fitted at T = 4096", r2=0.999),
    "Fig. 2 right": PaperLaw(2.15, {"f": -1.02}, "Fig. 2 (right), fitted at T = 4096", r2=0.992,
                             note="fitted with 2a = b = g on sqrt(d) T / sqrt(p^2 d + (1-p)^2); App. D.2 "
                                  "writes f = sqrt(p^2 d + (1-p)^2) with the same tie, which read "
                                  "literally has the opposite sign. We fit f(p, d) = sqrt(d) T / "
                                  "sqrt(p^2 d + (1-p)^2), whose exponent is -1.02 on the denominator."),
    "Fig. 3": PaperLaw(0.76, {"d": 1.29, "T": 0.80, "B": -0.80}, "Fig. 3 (left and middle, one fit)", r2=0.995),
    "layers and heads": PaperLaw(1.03, {"d": 1.27, "T": 0.70, "n_layers": 0.06, "n_heads": 0.16}, "Fig. 13",
                                 r2=0.995, note="the source text lost the digits before '.27' and '.70': "
                                                "1.27 and 0.70 are reconstructions"),
    "feature, random position": PaperLaw(1.43, {"d": 1.31, "T": 0.58}, "Fig. 14", r2=0.998),
    "feature, fixed position": PaperLaw(4.20, {"d": 1.22, "T": 0.29}, "Fig. 14", r2=0.996),
    "no feature, fixed position": PaperLaw(4.61, {"d": 1.21, "T": 0.30}, "Fig. 14", r2=0.999),
    "adam": PaperLaw(1.45, {"d": 1.31, "T": 0.57}, "Fig. 15 (1 layer, 1 head, Adam 1e-4)", r2=0.998),
    "sgd": PaperLaw(6.42, {"d": 1.44, "T": 1.07}, "Fig. 15 (1 layer, 1 head, SGD 5e-3)", r2=0.997),
    "Fig. 4 right": PaperLaw(0.55, {"n_tokens": 0.79, "n_pairs": 2.25},
                             "Fig. 4 (right), emergence at 5% accuracy", r2=0.982),
}
"""The paper's fitted laws by name."""


@dataclass(frozen=True)
class PaperValue:
    """A number the paper reports outside a law, with its source and caveat."""

    value: float
    source: str
    note: str = ""


VALUES: dict[str, PaperValue] = {
    "Fig. 1c R2": PaperValue(0.999, "Fig. 1 (c), caption: the plateau of the reduced flow against T and d",
                             note="the caption gives no exponents"),
}
"""The paper's reported numbers that belong to no law of :data:`LAWS`, by name (PAPER.md,
section 6: Fig. 1c's power law has an R^2 but no exponents; 0.99 and 0.49 are Fig. 2 left's)."""


FIGURES: dict[int, str] = {
    1: "reduced dynamics: a plateau, a sudden drop; plateau length against T and d",
    2: "reduced dynamics under repetition: plateau against B and d (left), p and d (right)",
    3: "Transformer plateau against d, T and B (left, middle) and under p (right)",
    4: "associative recall: accuracy curves; emergence time against N_tokens and N_pairs",
    5: "associative recall under repetition B and p, on test data",
    6: "the reduced loss landscape over (w, Δa), with the path of gradient flow",
    7: "the early dynamics against their linearization",
    8: "the late phase: w_inf(α), w against w_inf, the Hessian's eigenvalues",
    9: "the reduced theory against SGD on the toy model",
    10: "three-variable flow under p: the repeated direction learns first",
    11: "a Transformer learning curve: a sharp transition",
    12: "Transformer curves under p at T = 256, test loss with and without repetition",
    13: "ablation: layers and heads",
    14: "ablation of the task: relevant-token feature, fixed position",
    15: "one layer, one head: SGD against Adam",
    16: "Fig. 5 measured on training data: repetition only speeds up",
    17: "copy and selection attention become sparse together, at emergence",
}
"""The paper's figures (main text and appendix), each with what it shows (PAPER.md, section 6)."""


def value(name: str) -> PaperValue:
    """The reported number ``name`` of :data:`VALUES`, or ``KeyError`` listing the names."""
    if name not in VALUES:
        raise KeyError(f"no paper value {name!r}; the values are {sorted(VALUES)}.")
    return VALUES[name]


def law(name: str) -> PaperLaw:
    """The law ``name`` of :data:`LAWS`, or ``KeyError`` listing the names."""
    if name not in LAWS:
        raise KeyError(f"no paper law {name!r}; the laws are {sorted(LAWS)}.")
    return LAWS[name]
