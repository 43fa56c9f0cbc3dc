"""Results files: JSON lines, one finished run per line, safe against kills and second writers.

**Format.** JSON lines, by default ``book/data/<name>_<profile>.jsonl``. Each line is the
experiment's record plus two fields: ``sweep`` (sweep name, the config as submitted and the
seed: the resume key) and ``provenance`` (command line, profile, git commit and whether tracked
files had uncommitted changes, package, torch and Python versions, device, host and CPU of the
worker, when the sweep started and the run finished, and the wall time of the job that trained
the run together with the seeds it trained). Non-finite numbers (the loss of a diverged run)
are written as ``null``, so every line is strict JSON; a diverged run is a record like any other.

**Crash safety.** Each line is written in full to a file opened for appending, then flushed to
disk (``fsync``), and the sweep holds an exclusive lock on the file (POSIX ``flock``) so that two
sweeps never write to it at once. A kill (even ``SIGKILL``) can at worst
leave an incomplete last line: :func:`load_results` warns about it and skips it, and the next
sweep on that file cuts it off before appending.

**Resume.** A run is identified by the canonical JSON of its config (sorted keys) and its seed.
Runs already in the results file are skipped, so running the same command again finishes an
interrupted sweep without repeating or losing a finished run. Changing a config (for example
``--max-steps``) makes new runs.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
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


def config_key(config: Mapping[str, Any]) -> str:
    """Canonical JSON of a config (sorted keys, no spaces): half of a run's resume key."""
    return json.dumps(json_ready(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


def load_results(path: str | os.PathLike) -> list[dict]:
    """The records of a JSON-lines results file, in file order ([] if it does not exist).

    An incomplete last line (a write cut by a kill) is reported with a warning and skipped;
    an invalid line anywhere else raises ``ValueError`` with its line number.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: the last write never finished
                warnings.warn(
                    f"{path}: skipped an incomplete last line ({len(line)} bytes, "
                    "probably a sweep killed while writing).",
                    stacklevel=2,
                )
                break
            raise ValueError(f"{path}, line {number}: not valid JSON ({error}).") from None
    return records


def run_key(record: Mapping[str, Any]) -> tuple[str, int] | None:
    """The resume key (config key, seed) of a results-file record, or ``None`` if it has none."""
    sweep = record.get("sweep")
    source = sweep if isinstance(sweep, Mapping) else record
    if not isinstance(source.get("config"), Mapping) or not isinstance(source.get("seed"), int):
        return None
    return config_key(source["config"]), source["seed"]


class ResultsFile:
    """A JSON-lines results file opened for appending, locked against a second writer."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._fd)
                raise RuntimeError(f"another sweep is writing to {self.path}; wait for it.") from None
        self._cut_incomplete_tail()

    def _cut_incomplete_tail(self) -> None:
        """Drop bytes after the last newline: the remains of a write cut by a kill."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as f:
            data = f.read()
        complete = data.rfind(b"\n") + 1
        if complete < size:
            warnings.warn(
                f"{self.path}: removed an incomplete last line ({size - complete} bytes).",
                stacklevel=3,
            )
            os.truncate(self.path, complete)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one complete line and flush it to disk."""
        line = (json.dumps(json_ready(record), allow_nan=False) + "\n").encode()
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)  # also releases the lock

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
