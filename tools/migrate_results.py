"""Migrate results files to the one run record of ``sparse_attention_lab.training.record`` (once; idempotent).

    python tools/migrate_results.py book/data/*.jsonl            # migrate, checking every file
    python tools/migrate_results.py --dry-run book/data/*.jsonl  # check and report only

Records written before the run record had one shape carried ``sweep = {name, config, seed}``:
the experiments copied their flat config over the trainer's ``config`` (the trainer's
description went to ``settings``), and scheduled runs kept the trainer's description in
``config`` with the flat key only in ``sweep``. A migrated record has

- ``config``: the flat sweep key (``sweep["config"]``; a scheduled run's nested
  ``{task, model, train, schedule}`` spec becomes an experiment's flat config plus
  ``experiment`` and ``schedule``, checked to build the same task, model and training fields);
- ``settings``: the trainer's description of the run;
- ``device``: the device the run trained on (the provenance's, which was the worker's default
  device: no cached config chose another, and the script checks that);
- ``diverged_at``: ``None`` (not recorded then; the script reports how many runs diverged);
- ``provenance``: every field as it was, plus ``sweep`` (the sweep's name).

Before writing a file the script checks: the same number of records; each record's fields
the same but for the ones above; the same resume keys (or, for flattened scheduled runs, the
same settings); every provenance field kept with its value. A file is rewritten atomically
(a temporary file, then a rename) while holding its lock, so a file a sweep is writing is
skipped and reported.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from sparse_attention_lab.experiments.schedules import EXPERIMENTS
from sparse_attention_lab.runs.results import config_key, json_ready, load_results, run_key
from sparse_attention_lab.training.trainer import _describe

NEW_FIELDS = {"device", "diverged_at"}


def _flat_scheduled(spec: dict) -> dict:
    """An old scheduled-run key ``{task: {kind, ...}, model, train, schedule}`` as a flat config."""
    task = dict(spec["task"])
    kind = task.pop("kind")
    if "seed" in task:
        task["task_seed"] = task.pop("seed")
    return {"experiment": kind, **task, **spec["model"], **spec["train"], "schedule": spec["schedule"]}


def _settings_of(flat: dict) -> dict:
    """The trainer's description of a scheduled flat config, built as ``run_scheduled`` builds it."""
    spec = {k: v for k, v in flat.items() if k not in ("experiment", "schedule")}
    task, model, training = EXPERIMENTS[flat["experiment"]].build(spec)
    return json_ready({"task": _describe(task), "model": model.to_dict(), "train": asdict(training)})


def _same_where_recorded(old: dict, new: dict) -> bool:
    """Every field of the old description has the same value in the new one (fields added to the
    library since the run was made may be new)."""
    return all(part in new and all(new[part].get(k) == v for k, v in fields.items()) for part, fields in old.items())


def migrate_record(record: dict) -> tuple[dict, str]:
    """The record in the current shape, and what was done (``kept``, ``migrated`` or ``flattened``)."""
    sweep = record.get("sweep")
    if not isinstance(sweep, dict):
        if not NEW_FIELDS <= set(record):
            raise ValueError(f"record for {record.get('config')} has neither a sweep field nor {sorted(NEW_FIELDS)}")
        return record, "kept"
    if sweep.get("seed") != record["seed"]:
        raise ValueError(f"sweep seed {sweep.get('seed')} differs from seed {record['seed']}")
    provenance = dict(record["provenance"])
    new = {k: v for k, v in record.items() if k != "sweep"}
    if "settings" in record:
        if config_key(sweep["config"]) != config_key(record["config"]):
            raise ValueError(f"sweep config {sweep['config']} differs from config {record['config']}")
        done = "migrated"
    else:  # a scheduled run: the description is in config, the key only in sweep
        description = {k: v for k, v in record["config"].items() if k != "schedule"}
        flat = _flat_scheduled(sweep["config"])
        if not _same_where_recorded(description, _settings_of(flat)):
            raise ValueError(f"the flattened config {flat} does not build the recorded run")
        new["config"], new["settings"], done = flat, description, "flattened"
    if "device" in new["config"] or "device" in new["config"].get("train", {}):
        raise ValueError("the config chose a device: the provenance's default device may not be the run's")
    new["device"] = provenance.get("device")
    new["diverged_at"] = None
    new["provenance"] = {**provenance, "sweep": sweep.get("name")}
    return new, done


def check(before: list[dict], after: list[dict], how: list[str]) -> None:
    """``ValueError`` unless the migration kept every record, field, key and provenance value."""
    if len(before) != len(after):
        raise ValueError(f"{len(before)} records became {len(after)}")
    for i, (old, new, done) in enumerate(zip(before, after, how, strict=True)):
        if done == "kept":
            if old != new:
                raise ValueError(f"record {i} changed although it needed no migration")
            continue
        expected = set(old) - {"sweep"} | NEW_FIELDS | {"settings"}
        if set(new) != expected:
            raise ValueError(f"record {i}: fields {sorted(set(new) ^ expected)} differ")
        if new["seed"] != old["seed"] or (done == "migrated" and run_key(new) != run_key(old)):
            raise ValueError(f"record {i}: its resume key changed")
        lost = {k: v for k, v in old["provenance"].items() if new["provenance"].get(k) != v}
        if lost:
            raise ValueError(f"record {i}: provenance fields {sorted(lost)} changed")
        same = {k for k in old if k not in ("sweep", "config", "settings", "provenance")}
        if any(old[k] != new[k] for k in same):
            raise ValueError(f"record {i}: a field of the run changed")


def migrate_file(path: Path, dry_run: bool) -> str:
    """Migrate one file (under its lock); a one-line report."""
    with open(path, "rb+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return f"{path.name}: SKIPPED, a sweep is writing to it; migrate it once the sweep ends"
        before = load_results(path)
        migrated = [migrate_record(r) for r in before]
        after, how = [r for r, _ in migrated], [h for _, h in migrated]
        check(before, after, how)
        counts = {h: how.count(h) for h in dict.fromkeys(how)}
        fields = len({k for r in before for k in r["provenance"]})
        report = (f"{path.name}: {len(before)} records before, {len(after)} after "
                  f"({', '.join(f'{n} {h}' for h, n in counts.items())}); {fields} provenance fields kept; "
                  f"{sum(r['diverged'] for r in after)} diverged")
        if dry_run or counts.get("kept") == len(after):
            return report + ("" if not dry_run else " [dry run]")
        text = "".join(json.dumps(json_ready(r), allow_nan=False) + "\n" for r in after)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, os.stat(path).st_mode & 0o777)
        os.replace(tmp.name, path)
    reread = load_results(path)
    if reread != after:
        raise RuntimeError(f"{path}: the file does not read back as written")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            print(migrate_file(path, args.dry_run))
        except (ValueError, OSError) as error:
            print(f"{path.name}: NOT MIGRATED: {error}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
