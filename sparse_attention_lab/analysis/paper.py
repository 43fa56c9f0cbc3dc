"""The paper's reported laws, each with where it is reported (one home for the paper's numbers).

Every law is ``T_pl = C * prod(x ** exponent)``; ``source`` names the figure or section that
reports it and ``note`` says where the text is ambiguous (PAPER.md keeps the same table).
"""

from __future__ import annotations

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


def law(name: str) -> PaperLaw:
    """The law ``name`` of :data:`LAWS`, or ``KeyError`` listing the names."""
    if name not in LAWS:
        raise KeyError(f"no paper law {name!r}; the laws are {sorted(LAWS)}.")
    return LAWS[name]
