"""Tables and figures of chapter 3's companion page: exponents against width, the open-choice ablation.

Views only format and draw what :mod:`sparse_attention_lab.analysis` computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from sparse_attention_lab.analysis.ablation import FRACTION, AblationRow
from sparse_attention_lab.analysis.paper import PaperLaw
from sparse_attention_lab.analysis.width import WidthFit
from sparse_attention_lab.experiments.ablation import OURS
from sparse_attention_lab.views.tables import Table

COLUMN_WIDTH_IN = 6.4
"""Figure width that the book's column shows at natural size (640 px at 100 dpi)."""

COLOURS = {"d": "tab:blue", "T": "tab:orange", "B": "tab:green"}


def _exponent(fit: WidthFit, feature: str, paper: float) -> str:
    distance, _ = fit.distance(feature, paper)
    return f"{fit.fit.exponent(feature)} ({distance:+.1f} SE)"


def width_table(fits_Td: Sequence[WidthFit], fits_B: Sequence[WidthFit], law: PaperLaw) -> Table:
    """One row per width: the model, the runs, and each exponent with its distance from the paper's
    in standard errors ((ours - paper) / SE); a last row gives the paper's law."""
    by_B = {f.width: f for f in fits_B}
    rows = []
    for fit in fits_Td:
        B = by_B.get(fit.width)
        rows.append([fit.model, f"{fit.runs}" + (f" + {B.runs}" if B else ""),
                     _exponent(fit, "d", law.exponents["d"]), _exponent(fit, "T", law.exponents["T"]),
                     _exponent(B, "B", law.exponents["B"]) if B else "not run"])
    rows.append([f"paper ({law.source})", "", f"{law.exponents['d']:+.2f}", f"{law.exponents['T']:+.2f}",
                 f"{law.exponents['B']:+.2f}"])
    return Table(["model", "runs (T, d + B, d)", "d", "T", "B"], rows)


def width_figure(fits_Td: Sequence[WidthFit], fits_B: Sequence[WidthFit], law: PaperLaw) -> plt.Figure:
    """The exponents of ``d``, ``T`` and ``B`` against width (2-SE bars), the paper's as dashed lines."""
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.8))
    series = [("d", fits_Td, -0.04), ("T", fits_Td, 0.0), ("B", fits_B, 0.04)]
    for feature, fits, shift in series:
        widths = np.array([f.width for f in fits], float)
        values = [f.fit.fit.exponents[feature] for f in fits]
        errors = [2 * f.fit.stderr(feature) for f in fits]
        ax.errorbar(widths * 2**shift, values, yerr=errors, fmt="o-", color=COLOURS[feature], capsize=3,
                    label=f"{feature} (ours, ± 2 SE)")
        ax.axhline(law.exponents[feature], color=COLOURS[feature], ls="--", lw=1)
    ax.set_xscale("log", base=2)
    widths = sorted({f.width for f in fits_Td})
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("model width d_model")
    ax.set_ylabel("exponent of the escape step")
    ax.set_title("Fig. 3's exponents against width (dashed: the paper's)", fontsize=11)
    ax.legend(fontsize=9, loc="center right")
    fig.tight_layout()
    return fig


def _change(row: AblationRow, feature: str) -> str:
    if feature not in row.exponent_change:
        return "-"
    change, stderr = row.exponent_change[feature]
    return f"{change:+.2f} ± {stderr:.2f} ({row.change_verdict(feature)})"


def ablation_table(rows: Sequence[AblationRow], reference: str) -> Table:
    """One line per reading under one threshold ``reference``: the factor on the escape step
    against ours and its verdict, the paper's law over our steps, the local exponents and their
    change from ours. Factors are geometric means over the cells, x/÷ one bootstrap SE."""
    lines = []
    for row in (r for r in rows if r.reference == reference):
        mine = row.reading == OURS
        exponents = (f"{row.fit.exponent('d')} / {row.fit.exponent('T')}" if row.fit else "too few crossings")
        lines.append([
            row.reading, f"{row.runs}" + (f" ({row.censored} capped)" if row.censored else ""),
            "1 (the reference)" if mine else f"{row.factor} {row.verdict}",
            str(row.law_over_ours), exponents,
            "-" if mine else _change(row, "d"), "-" if mine else _change(row, "T"),
        ])
    return Table(["reading", "runs", "escape step / ours", "paper's law / ours", "exponents d / T",
                  "change of d", "change of T"], lines,
                 caption=f"Threshold: {FRACTION:g} x the {reference}. Capped runs count at their cap, "
                         "so their factor is a lower bound.")
