"""Command line of sparse-attention-lab.

    python -m sparse_attention_lab list
    python -m sparse_attention_lab sweep fig3 --profile laptop [--seeds 3] [--out FILE]
        [--device cpu|cuda|cuda:N] [--executor inline|process|submitit] [--workers N]
        [--max-steps N] [--pack | --no-pack] [--submitit-folder DIR] [--submitit-param KEY=VALUE ...]

``sweep`` runs a named sweep (a grid of configs x seeds), appending each finished run to a
JSON-lines file (default ``./sal_results/<name>_<profile>.jsonl``; the book's ``book/data`` only
when named with ``--out``) with its provenance; running the
same command again resumes it. See :mod:`sparse_attention_lab.runs.sweep` for the details.

A mistake in the command (a bad argument, an unknown sweep or profile, an ``--out`` that is not
a results file or cannot be written, a full disk) ends with one line on stderr and exit status
2; failed jobs, or another sweep writing to the same file, with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence

from sparse_attention_lab import experiments
from sparse_attention_lab.hardware import current_profile
from sparse_attention_lab.profiles import PROFILES
from sparse_attention_lab.runs.executors import EXECUTORS, make_executor
from sparse_attention_lab.runs.sweep import named_sweep, run_sweep

PROG = "python -m sparse_attention_lab"


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
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the sweeps that can be run, and their sizes")
    listing.add_argument("--profile", choices=list(PROFILES), default=None,
                         help="profile whose sizes to show (default: $SAL_PROFILE, else the hardware)")
    sweep = commands.add_parser("sweep", help="run (or resume) a named sweep")
    sweep.add_argument("name", help="sweep name (see `list`)")
    sweep.add_argument("--profile", choices=list(PROFILES), default=None,
                       help="compute profile (default: $SAL_PROFILE, else from the hardware)")
    sweep.add_argument("--out", default=None, metavar="FILE",
                       help="results file (default: ./sal_results/<name>_<profile>.jsonl; the book's cache "
                            "only when named, e.g. book/data/fig3_ci.jsonl)")
    sweep.add_argument("--seeds", type=int, default=None, metavar="N",
                       help="seeds 0..N-1 per config (default: the sweep's, else 3)")
    sweep.add_argument("--device", default=None, metavar="DEVICE",
                       help="where runs train: cpu, cuda or cuda:N (default: CUDA when present); "
                            "not part of a run's key, so a sweep can resume on another device")
    sweep.add_argument("--executor", choices=EXECUTORS, default="inline",
                       help="where jobs run: this process, a process pool, or a SLURM cluster "
                            "through submitit (default: inline)")
    sweep.add_argument("--workers", type=int, default=None, metavar="N",
                       help="jobs at once (default: 1 inline, one per core for process)")
    sweep.add_argument("--max-steps", type=int, default=None, metavar="N",
                       help="override every config's step cap (a short trial of a sweep)")
    sweep.add_argument("--pack", action=argparse.BooleanOptionalAction, default=None,
                       help="train configs that differ only in B and p as one ensemble (default: on "
                            "CUDA, off on a CPU)")
    sweep.add_argument("--submitit-folder", default="submitit_logs", metavar="DIR",
                       help="logs and pickles of submitit jobs, on a filesystem the nodes share; "
                            "whoever can write there can run code in the sweep, so use a folder "
                            "only you can write (made with mode 0700 when missing)")
    sweep.add_argument("--submitit-param", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE",
                       help="submitit parameter, e.g. slurm_partition=gpu or timeout_min=120")
    return parser


def _list(profile_name: str | None) -> int:
    profile = current_profile(profile_name)
    print(f"sweep\tconfigs x seeds (profile {profile.name})\tmodule")
    for name, sweep in sorted(experiments.SWEEPS.items()):
        print(f"{name}\t{len(sweep.configs(profile))} x {sweep.seeds(profile)}\t{sweep.module}")
    return 0


def _sweep(args: argparse.Namespace, argv: list[str]) -> int:
    named_sweep(args.name)  # an unknown name is refused before any submitit folder is made
    executor = args.executor
    if executor == "submitit":
        executor = make_executor("submitit", args.workers, args.submitit_folder, dict(args.submitit_param))
    try:
        run_sweep(args.name, profile=args.profile, seeds=args.seeds, out=args.out, device=args.device,
                  executor=executor, workers=args.workers, max_steps=args.max_steps, pack=args.pack,
                  command=["python", "-m", "sparse_attention_lab", *argv])
    finally:
        if not isinstance(executor, str):
            executor.shutdown(wait=False, cancel_futures=True)
    return 0


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the sweep unwinds (its finished runs are on disk); a
    ``BaseException``, like ``KeyboardInterrupt``, so that no job catches it as its own failure."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


STOPPED = "finished runs are saved in the results file; the same command resumes the sweep."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse exits 2 itself on bad syntax)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _list(args.profile) if args.command == "list" else _sweep(args, argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (Ctrl-C); {STOPPED}", file=sys.stderr)
        return 2
    except _Terminated:
        print(f"{PROG}: terminated (SIGTERM); {STOPPED}", file=sys.stderr)
        return 2
    except (ValueError, OSError, OverflowError) as error:  # the user's input, files or disk
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # failed jobs, or another sweep writing to the same file
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
