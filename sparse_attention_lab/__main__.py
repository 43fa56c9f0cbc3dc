"""Command line of sparse-attention-lab.

    python -m sparse_attention_lab list
    python -m sparse_attention_lab sweep fig3 --profile laptop [--seeds 3] [--out FILE]
        [--executor inline|process|submitit] [--workers N] [--max-steps N]
        [--submitit-folder DIR] [--submitit-param KEY=VALUE ...]

``sweep`` runs a named sweep (a grid of configs x seeds), appending each finished run to a
JSON-lines file (default ``book/data/<name>_<profile>.jsonl``) with its provenance; running the
same command again resumes it. See :mod:`sparse_attention_lab.runs.sweep` for the details.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from sparse_attention_lab.hardware import current_profile
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.runs.sweep import (
    EXECUTORS,
    default_seeds,
    make_executor,
    named_sweep,
    run_sweep,
    sweep_catalog,
)


def _key_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses (numbers, booleans), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sparse_attention_lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the sweeps that can be run, and their sizes")
    listing.add_argument("--profile", choices=list(PROFILES), default=None,
                         help="profile whose sizes to show (default: $SAL_PROFILE, else the hardware)")
    sweep = commands.add_parser("sweep", help="run (or resume) a named sweep")
    sweep.add_argument("name", help="sweep name (see `list`)")
    sweep.add_argument("--profile", choices=list(PROFILES), default=None,
                       help="compute profile (default: $SAL_PROFILE, else from the hardware)")
    sweep.add_argument("--out", default=None, metavar="FILE",
                       help="results file (default: book/data/<name>_<profile>.jsonl)")
    sweep.add_argument("--seeds", type=int, default=None, metavar="N",
                       help="seeds 0..N-1 per config (default: the experiment's, else 3)")
    sweep.add_argument("--executor", choices=EXECUTORS, default="inline",
                       help="where jobs run: this process, a process pool, or a SLURM cluster "
                            "through submitit (default: inline)")
    sweep.add_argument("--workers", type=int, default=None, metavar="N",
                       help="jobs at once (default: 1 inline, one per core for process)")
    sweep.add_argument("--max-steps", type=int, default=None, metavar="N",
                       help="override every config's step cap (a short trial of a sweep)")
    sweep.add_argument("--submitit-folder", default="submitit_logs", metavar="DIR",
                       help="logs and pickles of submitit jobs (on a shared filesystem)")
    sweep.add_argument("--submitit-param", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE",
                       help="submitit parameter, e.g. slurm_partition=gpu or timeout_min=120")
    return parser


def _list(profile_name: str | None) -> int:
    profile = current_profile(profile_name)
    catalog = sweep_catalog()
    print(f"sweep\tconfigs x seeds (profile {profile.name})\tmodule")
    for name, module in sorted(catalog.sweeps.items()):
        configs, _ = named_sweep(name, profile)
        print(f"{name}\t{len(configs)} x {default_seeds(name, profile)}\t{module}")
    for module, reason in catalog.unavailable.items():
        print(f"({module}: {reason})", file=sys.stderr)
    return 0


def _sweep(args: argparse.Namespace, argv: list[str], parser: argparse.ArgumentParser) -> int:
    catalog = sweep_catalog()
    if args.name not in catalog.sweeps:  # before any submitit folder is made
        parser.error(f"unknown sweep {args.name!r}; {catalog.describe()}")
    executor = args.executor
    try:
        if executor == "submitit":
            executor = make_executor("submitit", args.workers, args.submitit_folder,
                                     dict(args.submitit_param))
        run_sweep(args.name, profile=args.profile, seeds=args.seeds, out=args.out,
                  executor=executor, workers=args.workers, max_steps=args.max_steps,
                  command=["python", "-m", "sparse_attention_lab", *argv])
    except ValueError as error:
        parser.error(str(error))
    except RuntimeError as error:  # failed jobs, or another sweep writing to the same file
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 1
    finally:
        if not isinstance(executor, str):
            executor.shutdown(wait=False, cancel_futures=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list(args.profile)
    return _sweep(args, argv, parser)


if __name__ == "__main__":
    sys.exit(main())
