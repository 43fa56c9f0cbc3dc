"""Scorecards: each reproduced number beside the paper's, with a verdict computed from the numbers.

Every chapter ends with one; the summary page gathers them all. Three kinds of row:

- :meth:`Scorecard.exponent`: a fitted exponent with its standard error against the paper's.
  The verdict is "agrees" when the paper's value lies within two standard errors; otherwise
  "same sign" or "opposite sign" when the sign is resolved (``|estimate| > 2 SE``), else
  "unresolved".
- :meth:`Scorecard.value`: a number against the paper's, "agrees" within a relative tolerance.
- :meth:`Scorecard.check`: a qualitative statement that holds or does not.
- :meth:`Scorecard.direction`: a direction the paper states, judged by the two-standard-error rule.
- :meth:`Scorecard.not_measured`: a claim our scale cannot test, with what was measured instead.

Rows are saved to ``book/data/scorecard_<chapter>.json`` for the summary page (outside a checkout,
or under a step cap, to ``./sal_results/``: :func:`~sparse_attention_lab.runs.book_data.results_dir`).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sparse_attention_lab.analysis.verdicts import direction
from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.runs.book_data import data_dir, results_dir
from sparse_attention_lab.tasks import checks

NOT_MEASURED = "not yet measured at this scale"
VERDICTS = ("agrees", "same sign", "opposite sign", "unresolved", "differs", "holds", "does not hold", NOT_MEASURED)


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


def _check_stderr(stderr: object) -> None:
    if isinstance(stderr, (int, float)) and stderr < 0:
        raise ValueError(f"stderr must be a standard error (>= 0), got {stderr!r}.")


def exponent_verdict(estimate: float, stderr: float, paper: float) -> str:
    """The verdict on a fitted exponent ``estimate +- stderr`` against the paper's ``paper``, by
    the one rule of :func:`~sparse_attention_lab.analysis.verdicts.direction`."""
    _check_stderr(stderr)
    if not (math.isfinite(estimate) and math.isfinite(stderr)):
        return "unresolved"
    if direction(estimate, stderr, paper) == "unresolved":
        return "agrees"
    sign = direction(estimate, stderr)
    if sign == "unresolved":
        return "unresolved"
    return "same sign" if (sign == "above") == (paper > 0) else "opposite sign"


def value_verdict(ours: float, paper: float, rel_tol: float) -> str:
    """"agrees" when ``|ours - paper| <= rel_tol |paper|``, else "differs"."""
    rel_tol = checks.real("rel_tol", rel_tol, at_least=0)
    return "agrees" if math.isfinite(ours) and abs(ours - paper) <= rel_tol * abs(paper) else "differs"


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
    ) -> Row:
        """A fitted exponent of ``fit`` against the paper's; the error is the larger of the fit's
        standard error and ``bootstrap`` (e.g. from :func:`~sparse_attention_lab.fitting.bootstrap_stderr`)."""
        if feature not in fit.exponents:
            raise ValueError(f"feature must be one of {sorted(fit.exponents)}, got {feature!r}.")
        estimate = fit.exponents[feature]
        stderr = max(fit.stderr.get(feature, math.nan), bootstrap if bootstrap is not None else 0.0)
        ours = f"{with_error(estimate, stderr)} (R² {fit.r2:.3f}, n = {fit.n})"
        return self._add(what=what, paper=f"{paper:.2f}", ours=ours, scale=scale,
                         verdict=exponent_verdict(estimate, stderr, paper), section=section)

    def value(self, what: str, paper: float, ours: float, rel_tol: float, scale: str, section: str = "") -> Row:
        """A number against the paper's, "agrees" within ``rel_tol`` (relative)."""
        rel_tol = checks.real("rel_tol", rel_tol, at_least=0)
        return self._add(what=what, paper=_number(paper), ours=_number(ours), scale=scale,
                         verdict=value_verdict(ours, paper, rel_tol), section=section)

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
        return self.directions(what, paper, [direction(estimate, stderr)], expected, ours, scale, section)

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
        ``./sal_results``); return the path."""
        path = Path(results_dir() if folder is None else folder) / f"scorecard_{self.chapter}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([asdict(r) for r in self.rows], indent=1, ensure_ascii=False) + "\n")
        return path


def load_rows(folder: Path | str | None = None) -> list[Row]:
    """Every row of every ``scorecard_*.json`` in ``folder``, chapter by chapter (default: the
    book's data folder, with a chapter's scorecard in
    :func:`~sparse_attention_lab.runs.book_data.results_dir`, written by running it here, in
    place of the book's)."""
    if folder is not None:
        files = {p.name: p for p in Path(folder).glob("scorecard_*.json")}
    else:
        files = {p.name: p for folder in (data_dir(), results_dir()) for p in sorted(folder.glob("scorecard_*.json"))}
    return [Row(**row) for name in sorted(files) for row in json.loads(files[name].read_text())]


def rows_html(rows: list[Row], link: bool) -> str:
    """An HTML table of ``rows``; with ``link`` the first column links to each row's chapter section."""
    head = "".join(f"<th>{h}</th>" for h in ("what", "paper", "ours", "scale", "verdict"))
    body = []
    for row in rows:
        what = html.escape(row.what)
        if link and row.chapter:
            anchor = f"#{row.section}" if row.section else ""
            what = f'<a href="{row.chapter}.html{anchor}">{what}</a>'
        cells = [what] + [html.escape(v) for v in (row.paper, row.ours, row.scale)]
        cells.append(f'<span class="verdict verdict-{row.verdict.replace(" ", "-")}">{row.verdict}</span>')
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


def glance_groups(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """``rows`` grouped by the paper's figure, in figure order, then the claims outside any figure,
    one group per chapter; within a group, rows keep their order."""
    numbers = sorted({n for n in map(figure_of, rows) if n is not None})
    groups = [(f"Figure {n}", [r for r in rows if figure_of(r) == n]) for n in numbers]
    for chapter in dict.fromkeys(r.chapter for r in rows if figure_of(r) is None):
        title = re.sub(r"^\d+_", "", chapter).replace("_", " ")
        groups.append((f"Outside the figures: {title}", [r for r in rows if figure_of(r) is None and r.chapter == chapter]))
    return groups


def glance_html(rows: list[Row]) -> str:
    """The summary page's body: a count of verdicts, then one linked table per group of
    :func:`glance_groups` under a heading."""
    if not rows:
        raise ValueError("rows must hold at least one scorecard row (run the chapters first).")
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    parts = [f'<p class="scorecard-summary">{len(rows)} rows from {len({r.chapter for r in rows})} chapters: {summary}.</p>']
    for title, members in glance_groups(rows):
        parts.append(f"<h3>{html.escape(title)}</h3>" + rows_html(members, link=True))
    return "\n".join(parts)
