"""Tables and figures of chapter 3's companion page: exponents against width, the open-choice ablation.

Views only format and draw what :mod:`sparse_attention_lab.analysis` computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from sparse_attention_lab.analysis.ablation import FRACTION, AblationRow, closest_to_paper
from sparse_attention_lab.analysis.paper import PaperLaw
from sparse_attention_lab.analysis.width import WidthFit, convergence
from sparse_attention_lab.experiments.ablation import OURS
from sparse_attention_lab.views.style import book_figure, column_axes
from sparse_attention_lab.views.tables import Table

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


@book_figure
def width_figure(fits_Td: Sequence[WidthFit], fits_B: Sequence[WidthFit], law: PaperLaw) -> plt.Figure:
    """The exponents of ``d``, ``T`` and ``B`` against width (2-SE bars), the paper's as dashed lines."""
    fig, ax = column_axes(4.2)
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
    ax.set_title("Fig. 3's exponents against width (dashed: the paper's)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return fig


def _exponent_and_change(row: AblationRow, feature: str) -> str:
    """``"+0.93 ± 0.10 (-0.05 ± 0.13)"``: the reading's exponent and its change from ours, with
    "steeper" or "flatter" only when the change is resolved."""
    if row.fit is None:
        return "too few crossings"
    text = row.fit.exponent(feature)
    if feature in row.exponent_change:
        change, stderr = row.exponent_change[feature]
        word = row.change_verdict(feature)
        text += f" ({change:+.2f} ± {stderr:.2f}{', ' + word if word != 'unresolved' else ''})"
    return text


def _ratio(ratio) -> str:
    bound = "≥ " if ratio.censored else ""
    return f"{bound}×{ratio.value:.2f} (×÷ {math.exp(ratio.log_stderr):.2f})"


def ablation_table(rows: Sequence[AblationRow], reference: str) -> Table:
    """One line per reading under one threshold ``reference``: the factor on the escape step
    against ours ("slower" or "faster" only when resolved), the paper's law over the reading's
    escape step, and the local exponents with their change from ours on the same cells."""
    lines = []
    for row in (r for r in rows if r.reference == reference):
        mine = row.reading == OURS
        verdict = "" if row.verdict == "unresolved" else f", {row.verdict}"
        lines.append([
            row.reading, f"{row.runs}" + (f" ({row.censored} capped)" if row.censored else ""),
            "1 (the reference)" if mine else f"{_ratio(row.factor)}{verdict}", _ratio(row.law_over_ours),
            _exponent_and_change(row, "d"), _exponent_and_change(row, "T"),
        ])
    return Table(["reading", "runs", "escape step / ours", "paper's law / escape step", "exponent of d (change)",
                  "exponent of T (change)"], lines,
                 caption=f"Threshold: {FRACTION:g} x the {reference}. Ratios are geometric means over the cells "
                         "each reading ran, times or divided by (×÷) one bootstrap standard error over seeds; a "
                         "change is against ours fitted on the same cells, and a direction is written only beyond "
                         "two standard errors. Capped runs count at their cap, so their factor is a lower bound.")


def width_sentences(fits_Td: Sequence[WidthFit], fits_B: Sequence[WidthFit], law: PaperLaw) -> list[str]:
    """One sentence per exponent: its value at each width and whether, from the narrowest width
    to the widest, it moved towards the paper's (:func:`~sparse_attention_lab.analysis.width.convergence`)."""
    lines = []
    for feature, fits in (("d", fits_Td), ("T", fits_Td), ("B", fits_B)):
        values = ", ".join(f"{f.fit.exponent(feature)} at width {f.width}" for f in fits)
        change, stderr, verdict = convergence(list(fits), feature, law.exponents[feature])
        lines.append(f"{feature}: {values} (paper {law.exponents[feature]:+.2f}); distance from the paper's "
                     f"changes by {change:+.2f} ± {stderr:.2f} from width {fits[0].width} to "
                     f"{fits[-1].width}: {verdict}.")
    return lines


def ablation_sentences(rows: Sequence[AblationRow], reference: str) -> list[str]:
    """The readings that move the escape beyond two standard errors, and the one closest to the
    paper's law, under one threshold ``reference``."""
    mine = [r for r in rows if r.reference == reference and r.reading != OURS]
    moved = [f"{r.reading} ({r.factor}, {r.verdict})" for r in mine if r.verdict != "unresolved"]
    still = [r.reading for r in mine if r.verdict == "unresolved"]
    ours = next(r for r in rows if r.reference == reference and r.reading == OURS)
    best = closest_to_paper(rows, reference)
    return [
        f"Threshold {FRACTION:g} x the {reference}: the paper's law over our escape step is "
        f"{ours.law_over_ours} (geometric mean over {ours.cells} cells).",
        "Resolved moves: " + ("; ".join(moved) if moved else "none") + ".",
        "Unresolved: " + (", ".join(still) if still else "none") + ".",
        f"Closest to the paper's law: {best.reading} (the law over its escape step: {best.law_over_ours}).",
    ]
