"""Results files: JSON lines, one finished run per line, safe against kills and second writers.

**Format.** JSON lines, by default ``./sal_results/<name>_<profile>.jsonl`` (the book's ``book/data`` when named). Each line is one
:class:`~sparse_attention_lab.training.record.RunRecord` (a JSON object whose ``config`` is the
run's flat config and ``seed`` its seed) with its ``provenance`` (see
:mod:`sparse_attention_lab.runs.provenance`). Lines are strict JSON, UTF-8: non-finite numbers
(the loss of a diverged run) are written as ``null``, and a file holding ``NaN`` or
``Infinity`` tokens is refused. A diverged run is a record like any other.

**Crash safety.** Each line is written in full to a file opened for appending, then flushed to
disk (``fsync``), and the sweep holds an exclusive lock on the file (POSIX ``flock``) so that two
sweeps never write to it at once. A kill (even ``SIGKILL``) can at worst leave an incomplete
last line: :func:`load_results` warns about it and skips it, and the next sweep on that file cuts
it off before appending. A last record that lacks only its newline is complete: it is loaded,
and the next sweep ends its line before appending. Every line starts with
:data:`RECORD_PREFIX` (the record's ``config`` comes first), so an incomplete last line is taken
for a cut write only when it starts so; any other file (a user's notes that happen to start with
``{``, say) is refused before anything is written to it and left byte for byte as it was. A
write that fails (a full disk) cuts its own partial line off before raising.

**Validation.** Every line must be a complete run record: a ``config`` object, a non-negative
integer ``seed``, lists ``steps``, ``test_loss`` and ``train_loss`` of one length, an
``escape_step`` that is a number or ``null`` and, when present, a ``provenance`` object. A run
(config and seed) may appear only once in a file.

**Resume.** A run is identified by the canonical JSON of its config (sorted keys) and its seed
(:func:`run_key`). Runs already in the results file are skipped, so running the same command
again finishes an interrupted sweep without repeating or losing a finished run. Changing a
config (for example ``--max-steps``) makes new runs.
"""

from __future__ import annotations

import json
import math
import os
import stat
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # POSIX file locks; elsewhere a sweep runs without the guard against a second writer.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def json_ready(value: Any) -> Any:
    """``value`` with tuples as lists, numpy/torch scalars and arrays as Python numbers and
    lists, and non-finite floats as ``None``, so that it dumps as strict JSON."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "tolist"):  # numpy or torch scalars and arrays
        return json_ready(value.tolist())
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _finite_config(config: Any, where: str = "config") -> None:
    """``ValueError`` naming the key of a non-finite number (JSON would store it as null)."""
    if isinstance(config, Mapping):
        for key, value in config.items():
            _finite_config(value, f"{where}[{key!r}]")
    elif isinstance(config, (list, tuple)):
        for i, value in enumerate(config):
            _finite_config(value, f"{where}[{i}]")
    elif isinstance(config, float) and not math.isfinite(config):
        raise ValueError(f"{where} must be a finite number, got {config!r}.")


def config_key(config: Mapping[str, Any]) -> str:
    """Canonical JSON of a config (sorted keys, no spaces): half of a run's resume key.
    ``ValueError`` for a non-finite number, which would be stored as null."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, got {type(config).__name__}.")
    _finite_config(config)
    return json.dumps(json_ready(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_key(record: Mapping[str, Any]) -> tuple[str, int]:
    """The resume key of a run record: (canonical JSON of its ``config``, its ``seed``)."""
    return config_key(record["config"]), record["seed"]


class _NotStrict(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotStrict(f"{name} is not strict JSON")


def _parse_line(line: bytes) -> Any:
    """One line as strict JSON; ``UnicodeDecodeError``, ``json.JSONDecodeError`` or ``_NotStrict``."""
    return json.loads(line.decode("utf-8"), parse_constant=_refuse_constant)


RECORD_PREFIX = b'{"config": '
"""How every line of a results file begins (:meth:`ResultsFile.append` writes ``config`` first)."""

CURVES = ("steps", "test_loss", "train_loss")
"""The curves every run record carries, one value per evaluation."""


def _check_record(value: Any) -> str | None:
    """Why ``value`` is not a run record, or ``None`` if it is one."""
    if not isinstance(value, dict):
        return f"not a run record (a JSON {type(value).__name__}, not an object)"
    if not isinstance(value.get("config"), dict):
        return "not a run record (no 'config' object)"
    seed = value.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return f"not a run record ('seed' is {seed!r}, not a non-negative integer)"
    for name in CURVES:
        if not isinstance(value.get(name), list):
            return f"not a run record ({name!r} is {type(value.get(name)).__name__}, not a list)"
    if len({len(value[name]) for name in CURVES}) != 1:
        return "not a run record (its curves " + ", ".join(repr(n) for n in CURVES) + " differ in length)"
    escape = value.get("escape_step", "missing")
    if escape is not None and (isinstance(escape, bool) or not isinstance(escape, (int, float))):
        return f"not a run record ('escape_step' is {escape!r}, not a number or null)"
    if "provenance" in value and not isinstance(value["provenance"], dict):
        return f"not a run record ('provenance' is {type(value['provenance']).__name__}, not an object)"
    return None


@dataclass(frozen=True)
class _Contents:
    records: list[dict]
    cut_at: int | None  # offset of an incomplete last line (a write cut by a kill), if any
    unterminated: bool  # the last line is a complete record without its newline


def _is_regular_file(path: Path) -> bool:
    return stat.S_ISREG(os.stat(path).st_mode)


def _check_path(path: Path) -> None:
    """``ValueError`` when ``path`` exists and is not a regular file (a directory, ``/dev/zero``...)."""
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a results file.")
    if path.exists() and not _is_regular_file(path):
        raise ValueError(f"{path} is not a regular file, so not a results file.")


def _read(path: Path, data: bytes) -> _Contents:
    """Parse the bytes of a results file; ``ValueError`` naming the line that is not a record."""
    lines = data.split(b"\n")  # the last item is b"" when the file ends with a newline
    records: list[dict] = []
    seen: dict[tuple[str, int], int] = {}
    offset = 0
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if line.strip():
            try:
                value = _parse_line(line)
            except json.JSONDecodeError as error:
                if last and line.startswith(RECORD_PREFIX):  # no newline after it: a write cut short
                    return _Contents(records, offset, False)
                raise ValueError(f"{path}, line {number}: not valid JSON ({error}).") from None
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}, line {number}: not UTF-8 text ({error.reason}).") from None
            except _NotStrict as error:
                raise ValueError(f"{path}, line {number}: {error} (results files hold null there).") from None
            problem = _check_record(value)
            if problem is not None:
                raise ValueError(f"{path}, line {number}: {problem}.")
            key = run_key(value)
            if key in seen:
                raise ValueError(f"{path}, line {number}: repeats the run of line {seen[key]} "
                                 f"(seed {key[1]} of the same config); a results file holds each run once.")
            seen[key] = number
            records.append(value)
        offset += len(line) + 1
    return _Contents(records, None, bool(lines[-1].strip()))


def load_results(path: str | os.PathLike) -> list[dict]:
    """The run records of a JSON-lines results file, in file order ([] if it does not exist).

    An incomplete last line (a write cut by a kill) is reported with a warning and skipped.
    ``ValueError``, naming the file and line, for a path that is not a regular file and for a
    line that is not UTF-8, not strict JSON, or not a run record.
    """
    path = Path(path)
    if not path.exists():
        return []
    _check_path(path)
    contents = _read(path, path.read_bytes())
    if contents.cut_at is not None:
        warnings.warn(
            f"{path}: skipped an incomplete last line, probably a sweep killed while writing.",
            stacklevel=2,
        )
    return contents.records


class ResultsFile:
    """A JSON-lines results file opened for appending, locked against a second writer.

    Opening checks the whole file first: ``ValueError`` (and the file left as it was) if it is
    not a results file; ``RuntimeError`` if another sweep holds it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        _check_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if not stat.S_ISREG(os.fstat(self._fd).st_mode):  # replaced since the check above
                raise ValueError(f"{self.path} is not a regular file, so not a results file.")
            if fcntl is not None:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise RuntimeError(f"another sweep is writing to {self.path}; wait for it.") from None
            self._repair_tail()
        except BaseException:
            os.close(self._fd)
            raise

    def _repair_tail(self) -> None:
        """Cut an incomplete last line (the remains of a write cut by a kill), or end a complete
        last record's line, after checking that every other line is a record."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        contents = _read(self.path, os.pread(self._fd, size, 0))
        if contents.cut_at is not None:
            warnings.warn(f"{self.path}: removed an incomplete last line ({size - contents.cut_at} bytes).",
                          stacklevel=3)
            os.ftruncate(self._fd, contents.cut_at)
        elif contents.unterminated:
            self._write(b"\n")

    def _write(self, data: bytes) -> None:
        """Append ``data`` in full and flush it, or, when a write fails, cut off what got written."""
        size = os.fstat(self._fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as error:  # a full disk, say: leave no partial line, name the file
            try:
                os.ftruncate(self._fd, size)
            except OSError:
                pass  # the next sweep on the file cuts it off (_repair_tail)
            raise OSError(error.errno, error.strerror, str(self.path)) from None

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` (a run record, ``config`` first) as one complete line and flush it to disk."""
        problem = _check_record(json_ready(record))
        if problem is not None:
            raise ValueError(f"cannot append to {self.path}: {problem}.")
        ordered = {"config": record["config"], **{k: v for k, v in record.items() if k != "config"}}
        self._write((json.dumps(json_ready(ordered), allow_nan=False) + "\n").encode())

    def close(self) -> None:
        os.close(self._fd)  # also releases the lock

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def missing_runs(configs: Sequence[Mapping[str, Any]], seeds: int,
                 records: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], int]]:
    """The ``(config, seed)`` pairs of a plan (``configs``, seeds ``0 .. seeds - 1`` each) that no
    record of ``records`` holds, by the resume key (:func:`run_key`), in the plan's order."""
    done = {run_key(record) for record in records}
    return [(config, seed) for config in configs for seed in range(seeds) if (config_key(config), seed) not in done]
