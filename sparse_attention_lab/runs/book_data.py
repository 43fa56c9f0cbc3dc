"""The book's cached results files, found wherever a chapter runs, with what made them.

The files live in ``book/data/`` of the repository and are installed with the package (as
``sparse_attention_lab/book_data/``, a link to ``book/data`` in a checkout), so a chapter
finds them in a checkout, an editable install, or a plain ``pip install`` (Colab) alike::

    fig3 = load_cached("fig3", profile, scale="ci")
    print(fig3.describe())          # file, runs, command, machine, commit, training time, scale
    records = fig3.records

A missing file raises :class:`FileNotFoundError` with the command that makes it, never an
empty list. Under the ``gpu`` and ``paper`` profiles a cache at that scale (``gpu`` or
``paper``) is used where it exists, in place of the smaller ``scale`` a chapter asks for;
:meth:`CachedResults.describe` says which scale the records are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sparse_attention_lab.hardware import STEP_CAP_VAR
from sparse_attention_lab.profiles import PROFILES, Profile
from sparse_attention_lab.runs.provenance import describe_provenance
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


@dataclass(frozen=True)
class CachedResults:
    """The records of one cached results file, and where they come from."""

    path: Path
    records: list[dict]
    scale: str | None = None  # profile the file was made under (None: not a named sweep)
    profile: str | None = None  # profile of the chapter that loaded it

    def describe(self) -> str:
        """One sentence on what made the records (:func:`~sparse_attention_lab.runs.provenance.describe_provenance`),
        then which profile's sizes they are when that is not the chapter's."""
        text = describe_provenance(self.path, self.records)
        if self.scale is not None and self.profile is not None and self.scale != self.profile:
            text += f" Scale: the {self.scale} profile's sizes, not this chapter's {self.profile} profile."
        return text


def load_cached_file(filename: str, command: str) -> CachedResults:
    """The records of ``book/data/<filename>``; ``FileNotFoundError`` naming ``command`` (what makes
    the file) when it is missing or empty."""
    path = data_path(filename)
    records = load_results(path)
    if not records:
        state = "is empty" if path.exists() else "is missing"
        raise FileNotFoundError(f"Cached results {path} {state}. Make them with: {command}")
    return CachedResults(path, records)


def load_cached(name: str, profile: Profile | str, scale: str = "ci", larger: bool = True) -> CachedResults:
    """Cached sweep ``name`` at ``scale`` (``book/data/<name>_<scale>.jsonl``), or, under the
    ``gpu`` and ``paper`` profiles, at that larger scale where such a file exists (unless
    ``larger`` is false: a fit that must match runs made at ``scale``).

    ``FileNotFoundError`` with the sweep command when no file is found.
    """
    running = profile if isinstance(profile, str) else profile.name
    for label, value in (("profile", running), ("scale", scale)):
        if value not in PROFILES:
            raise ValueError(f"{label} must be one of {', '.join(PROFILES)}, got {value!r}.")
    folder = data_dir()
    candidates = (*LARGER_SCALES.get(running, ()), scale) if larger else (scale,)
    for candidate in candidates:
        path = folder / f"{name}_{candidate}.jsonl"
        if path.exists():
            return CachedResults(path, load_cached_file(path.name, sweep_command(name, candidate)).records,
                                 candidate, running)
    tried = ", ".join(f"{name}_{s}.jsonl" for s in dict.fromkeys(candidates))
    raise FileNotFoundError(
        f"No cached results for sweep {name!r} in {folder} (looked for {tried}). "
        f"Make them with: {sweep_command(name, scale)}"
    )
