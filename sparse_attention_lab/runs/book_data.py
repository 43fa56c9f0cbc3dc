"""The book's cached results files, found wherever a chapter runs, with what made them.

The files live in ``book/data/`` of the repository and are installed with the package (as
``sparse_attention_lab/book_data/``, a link to ``book/data`` in a checkout), so a chapter
finds them in a checkout, an editable install, or a plain ``pip install`` (Colab) alike::

    fig3 = load_cached("fig3", profile, scale="ci")
    print(fig3.describe())          # file, runs, command, machine, commit, training time, scale
    records = fig3.records

This is the one loader of cached runs. A missing file raises :class:`FileNotFoundError` with
the command that makes it, never an empty list. Under the ``gpu`` and ``paper`` profiles a cache
at that scale (``gpu`` or ``paper``) is used where it exists (for every sweep of a join, or
none), in place of the smaller ``scale`` a chapter asks for; :meth:`CachedResults.describe`
says which scale the records are, and :attr:`CachedResults.scale_of` their profile, model width,
learning rate and device. Runs trained under a step cap that was not their sweep's own
(:func:`~sparse_attention_lab.runs.provenance.capped`) are left out, with a note. Several sweeps
load as one list only when their scales agree, or when the caller names the join::

    joint = load_cached(["fig3", "fig3_B"], profile)               # same width, lr and profile
    both = load_cached(["fig3", "fig3_w256"], profile, "laptop", join=("width", "lr"))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sparse_attention_lab.hardware import STEP_CAP_VAR
from sparse_attention_lab.profiles import PROFILES, Profile
from sparse_attention_lab.runs.provenance import capped, describe_provenance
from sparse_attention_lab.runs.results import load_results

PACKAGE = Path(__file__).resolve().parents[1]
CANDIDATES = (PACKAGE / "book_data", PACKAGE.parent / "book" / "data")
"""Where the files can be: the installed copy (a link in a checkout), then a checkout's ``book/data``."""

LARGER_SCALES = {"gpu": ("gpu", "paper"), "paper": ("paper", "gpu")}
"""Caches a chapter under these profiles prefers to the scale it asks for, in this order."""


def data_dir() -> Path:
    """The folder of the book's cached results (``book/data`` or its installed copy)."""
    for folder in CANDIDATES:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        "The book's cached results are missing: neither "
        + " nor ".join(str(f) for f in CANDIDATES)
        + " exists. Reinstall the package, e.g. `pip install sparse-attention-lab[colab]` from the repository."
    )


LOCAL_RESULTS = "sal_results"
"""The folder, in the working directory, where chapters run outside a checkout write their results."""


RESULTS_DIR_VAR = "SAL_RESULTS_DIR"
"""Environment variable naming the folder chapters write to (the tests set it to a temporary
folder, so that running the chapters under nbval leaves the checkout as it was)."""


def results_dir() -> Path:
    """Where a chapter writes what it computes (its scorecard): ``$SAL_RESULTS_DIR`` when set,
    else a checkout's ``book/data``, except under a step cap (``$SAL_MAX_STEPS``: its numbers are
    not results) or from an installed package (whose data folder may be read-only and holds the
    book's own files, e.g. on Colab): then ``./sal_results`` in the working directory (not
    created here)."""
    chosen = os.environ.get(RESULTS_DIR_VAR)
    if chosen:
        return Path(chosen)
    checkout = CANDIDATES[1]
    if checkout.is_dir() and not os.environ.get(STEP_CAP_VAR):
        return checkout
    return Path.cwd() / LOCAL_RESULTS


def data_path(filename: str) -> Path:
    """Path of ``filename`` in :func:`data_dir` (existing or not: a sweep's ``out``)."""
    if os.path.basename(filename) != filename or not filename.endswith(".jsonl"):
        raise ValueError(f"filename must be a bare '<name>.jsonl', got {filename!r}.")
    return data_dir() / filename


def sweep_command(name: str, scale: str) -> str:
    """The command line that makes (or resumes) ``book/data/<name>_<scale>.jsonl`` (named as ``--out``:
    a sweep writes into the book only when asked)."""
    return f"python -m sparse_attention_lab sweep {name} --profile {scale} --out book/data/{name}_{scale}.jsonl"


class Note(str):
    """A line of Markdown (a provenance sentence): ``display`` renders it, ``print`` prints it."""

    def _repr_markdown_(self) -> str:
        return str(self)


JOINS = ("profile", "width", "lr")
"""What may differ between the sweeps of one load only when the caller names it (``join=``)."""


def scale_of(records: Iterable[dict]) -> dict[str, list]:
    """The scale of ``records``: the profiles that made them, model widths (``d_model``), learning
    rates and devices, each sorted, ``None`` where a record does not say."""
    records = list(records)
    values = {
        "profile": [(r.get("provenance") or {}).get("profile") for r in records],
        "width": [(r.get("config") or {}).get("d_model") for r in records],
        "lr": [(r.get("config") or {}).get("lr") for r in records],
        "device": [r.get("device") or (r.get("provenance") or {}).get("device") for r in records],
    }
    return {key: sorted(set(found), key=lambda v: (v is None, type(v).__name__, 0 if v is None else v))
            for key, found in values.items()}


def scale_text(scale: dict[str, list]) -> str:
    """``"profile ci, width 32, lr 0.0003, device cpu"``: :func:`scale_of` in words."""
    def words(values: list) -> str:
        return " and ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) or "unknown"

    return ", ".join(f"{key} {words(values)}" for key, values in scale.items())


@dataclass(frozen=True)
class CachedResults:
    """The records of one cached results file (or of a join of several), and where they come from."""

    path: Path
    records: list[dict]
    scale: str | None = None  # profile the file was made under (None: not a named sweep)
    profile: str | None = None  # profile of the chapter that loaded it
    dropped: int = 0  # capped runs left out
    parts: tuple[CachedResults, ...] = ()  # the files of a join, in order

    @property
    def scale_of(self) -> dict[str, list]:
        """The profiles, model widths, learning rates and devices of the records (:func:`scale_of`)."""
        return scale_of(self.records)

    def describe(self) -> Note:
        """One sentence on what made the records (:func:`~sparse_attention_lab.runs.provenance.describe_provenance`),
        then which profile's sizes they are when that is not the chapter's, and how many capped
        runs were left out."""
        if self.parts:
            return Note(" ".join(part.describe() for part in self.parts))
        text = describe_provenance(self.path, self.records)
        if self.scale is not None and self.profile is not None and self.scale != self.profile:
            text += f" Scale: the {self.scale} profile's sizes, not this chapter's {self.profile} profile."
        if self.dropped:
            text += f" Left out: {self.dropped} runs trained under a step cap (trials, not results)."
        return Note(text)


def load_cached_file(filename: str, command: str) -> CachedResults:
    """The records of ``book/data/<filename>``, capped runs left out; ``FileNotFoundError`` naming
    ``command`` (what makes the file) when it is missing or holds no uncapped run."""
    path = data_path(filename)
    records = load_results(path)
    kept = [r for r in records if not capped(r)]
    if not kept:
        state = "is missing" if not path.exists() else "is empty" if not records else "holds only capped runs"
        raise FileNotFoundError(f"Cached results {path} {state}. Make them with: {command}")
    return CachedResults(path, kept, dropped=len(records) - len(kept))


def _check_join(parts: Sequence[CachedResults], join: Iterable[str]) -> None:
    """``ValueError`` when the parts differ in a :data:`JOINS` key that ``join`` does not name."""
    join = set(join)
    unknown = join - set(JOINS)
    if unknown:
        raise ValueError(f"join must name some of {JOINS}, got {sorted(unknown)}.")
    differ = {}
    for key in (k for k in JOINS if k not in join):
        found = {part.path.name: part.scale_of[key] for part in parts}
        if len({tuple(map(str, v)) for v in found.values()}) > 1:
            differ[key] = "; ".join(f"{name}: {scale_text({key: v})}" for name, v in found.items())
    if differ:
        raise ValueError(f"refusing to join runs of different {' and '.join(differ)} in one fit ("
                         + "; ".join(differ.values()) + f"). Name the join (join={tuple(differ)!r}) if that is meant.")


def load_cached(name: str | Sequence[str], profile: Profile | str, scale: str = "ci", larger: bool = True,
                join: Iterable[str] = ()) -> CachedResults:
    """Cached sweep ``name`` at ``scale`` (``book/data/<name>_<scale>.jsonl``), or, under the
    ``gpu`` and ``paper`` profiles, at that larger scale where such a file exists (unless
    ``larger`` is false: a fit that must match runs made at ``scale``). Capped runs are left out.

    ``name`` may list several sweeps: they load at one scale (the larger one only where every
    sweep has it) and join into one list of records, which ``ValueError`` refuses when their
    profiles, model widths or learning rates differ, unless ``join`` names those keys
    (:data:`JOINS`). ``FileNotFoundError`` with the sweep command when a file is missing.
    """
    running = profile if isinstance(profile, str) else profile.name
    for label, value in (("profile", running), ("scale", scale)):
        if value not in PROFILES:
            raise ValueError(f"{label} must be one of {', '.join(PROFILES)}, got {value!r}.")
    names = [name] if isinstance(name, str) else list(name)
    if not names:
        raise ValueError("name must name a sweep or several.")
    folder = data_dir()
    candidates = (*LARGER_SCALES.get(running, ()), scale) if larger else (scale,)
    chosen = next((c for c in candidates if all((folder / f"{n}_{c}.jsonl").exists() for n in names)), None)
    if chosen is None:
        missing = [n for n in names if not any((folder / f"{n}_{c}.jsonl").exists() for c in candidates)] or names
        tried = ", ".join(f"{missing[0]}_{s}.jsonl" for s in dict.fromkeys(candidates))
        raise FileNotFoundError(
            f"No cached results for sweep {missing[0]!r} in {folder} (looked for {tried}). "
            f"Make them with: {sweep_command(missing[0], scale)}"
        )
    parts = []
    for n in names:
        loaded = load_cached_file(f"{n}_{chosen}.jsonl", sweep_command(n, chosen))
        parts.append(CachedResults(loaded.path, loaded.records, chosen, running, loaded.dropped))
    if len(parts) == 1:
        return parts[0]
    _check_join(parts, join)
    return CachedResults(parts[0].path, [r for part in parts for r in part.records], chosen, running,
                         sum(part.dropped for part in parts), tuple(parts))
