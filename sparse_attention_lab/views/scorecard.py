"""Scorecards: each reproduced number beside the paper's, with a verdict computed from the numbers.

Every chapter ends with one; the summary page gathers them all. Three kinds of row:

- :meth:`Scorecard.exponent`: a fitted exponent with its standard error against the paper's.
  The verdict is "agrees" when the paper's value lies within two standard errors; for a fit of a
  deterministic integration (``deterministic=True``), whose standard error measures only how far
  the flow is from a power law, "close" within :data:`~sparse_attention_lab.analysis.verdicts.EXPONENT_TOLERANCE`
  instead; otherwise "same sign" or "opposite sign" when the sign is resolved
  (``|estimate| > 2 SE``), else "unresolved".
- :meth:`Scorecard.value`: a number against the paper's, "close" within a relative tolerance
  stated in the row.
- :meth:`Scorecard.check`: a qualitative statement that holds or does not.
- :meth:`Scorecard.direction`: a direction the paper states, judged by the two-standard-error rule.
- :meth:`Scorecard.not_measured`: a claim our scale cannot test, with what was measured instead.

Each row says how far ours is from the paper's (``distance``): ``(ours - paper) / SE`` and
``ours / paper`` for an exponent, the difference and its tolerance for a deterministic one.

Rows are saved to ``book/data/scorecard_<chapter>.json`` for the summary page (outside a checkout,
or under a step cap, to ``./sal_results/``: :func:`~sparse_attention_lab.runs.book_data.results_dir`).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.analysis.verdicts import (
    CONTRADICTS,
    EXPONENT_TOLERANCE,
    FIGURE_VERDICTS,
    FOLLOWS,
    MEETS,
    NOT_MEASURED,
    ROW_VERDICTS,
    close,
    direction,
    figure_verdict,
)
from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.hardware import STEP_CAP_VAR
from sparse_attention_lab.runs.book_data import data_dir, results_dir
from sparse_attention_lab.tasks import checks

VERDICTS = ROW_VERDICTS


@dataclass(frozen=True)
class Row:
    """One line of a scorecard (JSON-able)."""

    what: str
    paper: str
    ours: str
    scale: str
    verdict: str
    section: str = ""
    chapter: str = ""
    distance: str = ""  # how far ours is from the paper's, e.g. "-8.7 SE, ×0.66"


def _check_stderr(stderr: object) -> None:
    if isinstance(stderr, (int, float)) and stderr < 0:
        raise ValueError(f"stderr must be a standard error (>= 0), got {stderr!r}.")


def exponent_verdict(estimate: float, stderr: float, paper: float, tolerance: float | None = None) -> str:
    """The verdict on a fitted exponent ``estimate +- stderr`` against the paper's ``paper``, by
    the one rule of :func:`~sparse_attention_lab.analysis.verdicts.direction`: "agrees" within two
    standard errors. With a ``tolerance`` (a deterministic fit, whose standard error is no noise)
    the standard error does not decide agreement: "close" within ``tolerance`` (absolute,
    :func:`~sparse_attention_lab.analysis.verdicts.close`). Otherwise the sign: "same sign",
    "opposite sign" or "unresolved"."""
    _check_stderr(stderr)
    if not (math.isfinite(estimate) and math.isfinite(stderr)):
        return "unresolved"
    if tolerance is not None:
        if close(estimate, paper, abs_tol=tolerance):
            return "close"
    elif direction(estimate, stderr, paper) == "unresolved":
        return "agrees"
    sign = direction(estimate, stderr)
    if sign == "unresolved":
        return "unresolved"
    return "same sign" if (sign == "above") == (paper > 0) else "opposite sign"


def value_verdict(ours: float, paper: float, rel_tol: float) -> str:
    """"close" when ``|ours - paper| <= rel_tol |paper|``, else "differs"."""
    return "close" if close(ours, paper, rel_tol=rel_tol) else "differs"


def exponent_distance(estimate: float, stderr: float, paper: float, tolerance: float | None = None) -> str:
    """How far ``estimate`` is from ``paper``: ``"-8.7 SE, ×0.66"`` (``(estimate - paper) / stderr``
    and ``estimate / paper``), or with a ``tolerance`` the difference beside it, ``"-0.017 (tolerance
    0.03)"``; empty when neither can be computed."""
    _check_stderr(stderr)
    if not math.isfinite(estimate):
        return ""
    if tolerance is not None:
        return f"{estimate - paper:+.3f} (tolerance {tolerance:g})"
    parts = [f"{(estimate - paper) / stderr:+.1f} SE"] if 0 < stderr < math.inf else []
    parts += [f"×{estimate / paper:.2f}"] if paper != 0 else []
    return ", ".join(parts)


def with_error(estimate: float, stderr: float) -> str:
    """``estimate ± stderr`` with the error to two significant digits and the estimate to match."""
    _check_stderr(stderr)
    if not (math.isfinite(stderr) and stderr > 0):
        return f"{estimate:.2f} ± {stderr:.2g}"
    decimals = max(0, 1 - math.floor(math.log10(stderr)))
    return f"{estimate:.{decimals}f} ± {stderr:.{decimals}f}"


def _number(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.3e}"


class Scorecard:
    """The scorecard of one chapter (``chapter``: the notebook's name without ``.ipynb``)."""

    def __init__(self, chapter: str) -> None:
        if not isinstance(chapter, str) or not chapter:
            raise ValueError(f"chapter must be a non-empty notebook name, got {chapter!r}.")
        self.chapter = chapter
        self.rows: list[Row] = []

    def _add(self, **row: str) -> Row:
        self.rows.append(Row(chapter=self.chapter, **row))
        return self.rows[-1]

    def exponent(
        self,
        what: str,
        paper: float,
        fit: PowerLawFit,
        feature: str,
        scale: str,
        section: str = "",
        bootstrap: float | None = None,
        deterministic: bool = False,
    ) -> Row:
        """A fitted exponent of ``fit`` against the paper's; the error is the larger of the fit's
        standard error and ``bootstrap`` (e.g. from :func:`~sparse_attention_lab.fitting.bootstrap_stderr`).
        ``deterministic``: a fit of a deterministic integration (the reduced flow), judged by
        :data:`~sparse_attention_lab.analysis.verdicts.EXPONENT_TOLERANCE`, not by its standard error."""
        if feature not in fit.exponents:
            raise ValueError(f"feature must be one of {sorted(fit.exponents)}, got {feature!r}.")
        if not isinstance(deterministic, bool):
            raise ValueError(f"deterministic must be a bool, got {deterministic!r}.")
        estimate = fit.exponents[feature]
        stderr = max(fit.stderr.get(feature, math.nan), bootstrap if bootstrap is not None else 0.0)
        tolerance = EXPONENT_TOLERANCE if deterministic else None
        ours = f"{with_error(estimate, stderr)} (R² {fit.r2:.3f}, n = {fit.n})"
        return self._add(what=what, paper=f"{paper:.2f}", ours=ours, scale=scale,
                         verdict=exponent_verdict(estimate, stderr, paper, tolerance), section=section,
                         distance=exponent_distance(estimate, stderr, paper, tolerance))

    def value(self, what: str, paper: float, ours: float, rel_tol: float, scale: str, section: str = "") -> Row:
        """A number against the paper's, "close" within ``rel_tol`` (relative, stated in the row's distance)."""
        rel_tol = checks.real("rel_tol", rel_tol, at_least=0)
        distance = f"×{ours / paper:.4g} (tolerance ±{rel_tol:.1%})" if paper != 0 and math.isfinite(ours) else ""
        return self._add(what=what, paper=_number(paper), ours=_number(ours), scale=scale,
                         verdict=value_verdict(ours, paper, rel_tol), section=section, distance=distance)

    def check(self, what: str, paper: str, ours: str, holds: bool, scale: str, section: str = "") -> Row:
        """A qualitative statement of the paper's, and whether it holds in our runs."""
        if not isinstance(holds, bool):
            raise ValueError(f"holds must be a bool, got {holds!r}.")
        return self._add(what=what, paper=paper, ours=ours, scale=scale,
                         verdict="holds" if holds else "does not hold", section=section)

    def direction(self, what: str, paper: str, estimate: float, stderr: float, expected: str, ours: str,
                  scale: str, section: str = "") -> Row:
        """A direction the paper states (``expected``: ``"above"`` or ``"below"`` zero, e.g. a
        negative exponent for "repetition shortens the plateau"): "holds" when ``estimate +- stderr``
        resolves it, "does not hold" when it resolves the opposite, "unresolved" otherwise."""
        _check_stderr(stderr)
        row = self.directions(what, paper, [direction(estimate, stderr)], expected, ours, scale, section)
        if 0 < stderr < math.inf and math.isfinite(estimate):
            self.rows[-1] = row = replace(row, distance=f"{estimate / stderr:+.1f} SE from 0")
        return row

    def directions(self, what: str, paper: str, found: Sequence[str], expected: str, ours: str, scale: str,
                   section: str = "") -> Row:
        """A direction the paper states for every one of several estimates, each already judged by
        :func:`~sparse_attention_lab.analysis.verdicts.direction` (``found``): "holds" when all
        resolve ``expected``, "does not hold" when one resolves the opposite, else "unresolved"."""
        checks.choice("expected", expected, ("above", "below"))
        found = list(found)
        if not found or any(f not in ("above", "below", "unresolved") for f in found):
            raise ValueError(f"found must hold directions ('above', 'below', 'unresolved'), got {found!r}.")
        if any(f not in (expected, "unresolved") for f in found):
            verdict = "does not hold"
        else:
            verdict = "holds" if all(f == expected for f in found) else "unresolved"
        return self._add(what=what, paper=paper, ours=ours, scale=scale, verdict=verdict, section=section)

    def not_measured(self, what: str, paper: str, ours: str, scale: str, section: str = "") -> Row:
        """A claim of the paper's that our scale cannot test (``ours`` says why, and what was
        measured instead): neither "holds" nor "does not hold"."""
        return self._add(what=what, paper=paper, ours=ours, scale=scale, verdict=NOT_MEASURED, section=section)

    def to_html(self) -> str:
        """The rows as an HTML table (what, paper, ours, scale, verdict)."""
        return rows_html(self.rows, link=False)

    def _repr_html_(self) -> str:
        return self.to_html()

    def show(self) -> None:
        """Display the table in the notebook (rendered, not printed)."""
        from IPython.display import HTML, display

        display(HTML(self.to_html()))

    def save(self, folder: Path | str | None = None) -> Path:
        """Write the rows to ``<folder>/scorecard_<chapter>.json`` (default:
        :func:`~sparse_attention_lab.runs.book_data.results_dir`, a checkout's ``book/data`` or
        ``./sal_results``); under a step cap (``$SAL_MAX_STEPS``: smoke runs, not results) to
        ``capped_scorecard_<chapter>.json``, which :func:`load_rows` never reads. Return the path."""
        prefix = "capped_" if os.environ.get(STEP_CAP_VAR) else ""
        path = Path(results_dir() if folder is None else folder) / f"{prefix}scorecard_{self.chapter}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([asdict(r) for r in self.rows], indent=1, ensure_ascii=False) + "\n")
        return path


def load_rows(folder: Path | str | None = None) -> list[Row]:
    """Every row of every ``scorecard_*.json`` in ``folder``, chapter by chapter (default: the
    book's data folder, with a chapter's scorecard in
    :func:`~sparse_attention_lab.runs.book_data.results_dir`, written by running it here, in
    place of the book's, each of its rows marked as a local run in its ``scale``). Scorecards of
    runs under a step cap (``capped_scorecard_*.json``) never enter."""
    if folder is not None:
        files = {p.name: p for p in Path(folder).glob("scorecard_*.json")}
    else:
        files = {p.name: p for folder in (data_dir(), results_dir()) for p in sorted(folder.glob("scorecard_*.json"))}
    book = data_dir().resolve() if folder is None else None
    rows = []
    for name in sorted(files):
        local = book is not None and files[name].parent.resolve() != book
        for row in map(lambda fields: Row(**fields), json.loads(files[name].read_text())):
            rows.append(replace(row, scale=f"{row.scale}; {LOCAL_RUN} ({files[name].parent})") if local else row)
    return rows


LOCAL_RUN = "a local run, not the book's"
"""What a row's scale says when its chapter was run here (a scorecard in ``./sal_results``)."""
CHECKOUT = Path(__file__).resolve().parents[2]
"""The folder above the package: a checkout (with ``_config.yml``), or site-packages once installed."""
HOSTED_BOOK = "https://sparse-attention-lab.github.io/sparse-attention-lab/"
"""The hosted book: GitHub Pages of ``_config.yml``'s repository (a test keeps them in step)."""


def link_base() -> str:
    """Where the chapters' pages are, seen from the summary page: beside it (``""``) when it is
    made in a checkout (the built book), else the hosted book's ``book/`` (e.g. on Colab, where no
    page is beside the notebook)."""
    return "" if (CHECKOUT / "_config.yml").is_file() else f"{HOSTED_BOOK}book/"


def section_href(row: Row) -> str:
    """The link to the section of its chapter that measures ``row`` (the chapter itself without a section)."""
    return f"{link_base()}{row.chapter}.html" + (f"#{row.section}" if row.section else "")


def rows_html(rows: list[Row], link: bool) -> str:
    """An HTML table of ``rows``, each verdict above its distance to the paper; with ``link`` the
    first column links to each row's chapter section."""
    head = "".join(f"<th>{h}</th>" for h in ("what", "paper", "ours", "scale", "verdict"))
    body = []
    for row in rows:
        what = html.escape(row.what)
        if link and row.chapter:
            what = f'<a href="{section_href(row)}">{what}</a>'
        cells = [what] + [html.escape(v) for v in (row.paper, row.ours, row.scale)]
        verdict = f'<span class="verdict verdict-{row.verdict.replace(" ", "-")}">{row.verdict}</span>'
        if row.distance:
            verdict += f'<br><small class="distance">{html.escape(row.distance)}</small>'
        cells.append(verdict)
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="scorecard"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


# --- The summary page ("Reproduction at a glance") -------------------------------------------

FIGURE = re.compile(r"\bFig(?:ure|s)?\.?\s*(\d+)")
"""The first "Fig. N" a row's ``what`` names: the paper's figure it reproduces."""


def figure_of(row: Row) -> int | None:
    """The number of the paper's figure that ``row`` reproduces (the first "Fig. N" of its
    ``what``), ``None`` for a claim made outside any figure."""
    match = FIGURE.search(row.what)
    return int(match.group(1)) if match else None


def chapter_title(chapter: str) -> str:
    """A chapter's notebook name as words: ``"03_under_the_microscope"`` -> ``"under the microscope"``."""
    return re.sub(r"^\d+_", "", chapter).replace("_", " ")


def glance_groups(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """``rows`` grouped by the paper's figure, in figure order, then the claims outside any figure,
    one group per chapter; within a group, rows keep their order."""
    numbers = sorted({n for n in map(figure_of, rows) if n is not None})
    groups = [(f"Figure {n}", [r for r in rows if figure_of(r) == n]) for n in numbers]
    for chapter in dict.fromkeys(r.chapter for r in rows if figure_of(r) is None):
        members = [r for r in rows if figure_of(r) is None and r.chapter == chapter]
        groups.append((f"Outside the figures: {chapter_title(chapter)}", members))
    return groups


def figure_verdicts(rows: list[Row]) -> dict[int, str]:
    """The verdict on each of the paper's figures (:data:`~sparse_attention_lab.analysis.paper.FIGURES`),
    by :func:`~sparse_attention_lab.analysis.verdicts.figure_verdict` of the rows that name it."""
    return {n: figure_verdict([r.verdict for r in rows if figure_of(r) == n]) for n in paper.FIGURES}


def _figures(numbers: list[int]) -> str:
    """``"Figs. 1, 2 and 7"``, ``"Fig. 4"``."""
    if len(numbers) == 1:
        return f"Fig. {numbers[0]}"
    return f"Figs. {', '.join(map(str, numbers[:-1]))} and {numbers[-1]}"


def glance_paragraph(rows: list[Row]) -> str:
    """The summary page's paragraph, computed from ``rows``: how many of the paper's figures each
    verdict of :func:`figure_verdicts` covers, then how the rows split."""
    if not rows:
        raise ValueError("rows must hold at least one scorecard row (run the chapters first).")
    by_verdict = {v: [n for n, fv in figure_verdicts(rows).items() if fv == v] for v in FIGURE_VERDICTS}
    phrases = {"reproduced": "reproduces {} at its scale", "reproduced qualitatively": "reproduces {} qualitatively",
               "differs": "differs from the paper on {}", NOT_MEASURED: "has not yet measured {} at this scale"}
    said = [phrases[v].format(f"{len(ns)} ({_figures(ns)})") for v, ns in by_verdict.items() if ns]
    said = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
    kinds = [(MEETS, ("meets", "meet"), " the paper's number or claim (within two standard errors, close "
                                          "within a stated tolerance, or a claim that holds)"),
             (FOLLOWS, ("has", "have"), " the paper's sign but not its size"),
             (("unresolved",), ("is", "are"), " unresolved"), (CONTRADICTS, ("goes", "go"), " against the paper"),
             ((NOT_MEASURED,), ("is", "are"), " not yet measured at this scale")]
    counts = [f"{n} {verb[n != 1]}{text}" for kind, verb, text in kinds if (n := sum(r.verdict in kind for r in rows))]
    chapters = len({r.chapter for r in rows})
    return (f"Of the paper's {len(paper.FIGURES)} figures, this book {said}. Of its {len(rows)} scorecard rows, "
            f"from {chapters} chapters, " + ", ".join(counts[:-1]) + f" and {counts[-1]}.")


def figures_html(rows: list[Row]) -> str:
    """One row per paper figure: what it shows, its verdict (:func:`figure_verdicts`) above how its
    rows split, and the section measuring it above the scale of its first row; the figure number
    links to its folded rows."""
    verdicts = figure_verdicts(rows)
    head = "".join(f"<th>{h}</th>" for h in ("figure", "what the paper shows", "verdict (our rows)", "where, at which scale"))
    body = []
    for n, shows in paper.FIGURES.items():
        members = [r for r in rows if figure_of(r) == n]
        split = ", ".join(f"{k} {v}" for v, k in Counter(r.verdict for r in members).items()) or "no row"
        verdict = verdicts[n]
        cells = [f'<a href="#figure-{n}">Fig. {n}</a>' if members else f"Fig. {n}", html.escape(shows),
                 f'<span class="verdict verdict-{verdict.replace(" ", "-")}">{verdict}</span>'
                 f'<br><small class="distance">{split}</small>', ""]
        if members:
            scales = list(dict.fromkeys(r.scale for r in members))
            more = f" (and {len(scales) - 1} more)" if len(scales) > 1 else ""
            cells[3] = (f'<a href="{section_href(members[0])}">{html.escape(chapter_title(members[0].chapter))}</a>'
                        f'<br><small>{html.escape(scales[0])}{more}</small>')
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="figure-verdicts"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def glance_html(rows: list[Row]) -> str:
    """The summary page's body: one row per paper figure (:func:`figures_html`), the paragraph of
    :func:`glance_paragraph`, then the rows of each group of :func:`glance_groups`, folded
    (``<details>``) under their figure's verdict."""
    if not rows:
        raise ValueError("rows must hold at least one scorecard row (run the chapters first).")
    verdicts = figure_verdicts(rows)
    parts = [figures_html(rows), f'<p class="scorecard-summary">{html.escape(glance_paragraph(rows))}</p>']
    for title, members in glance_groups(rows):
        number = figure_of(members[0])
        verdict = f": {verdicts[number]}" if number in verdicts else ""
        anchor = f' id="figure-{number}"' if number is not None else ""
        summary = f"{html.escape(title)}{verdict} ({len(members)} row{'s' if len(members) > 1 else ''})"
        parts.append(f'<details class="scorecard-group"{anchor}><summary>{summary}</summary>'
                     + rows_html(members, link=True) + "</details>")
    return "\n".join(parts)
