"""Executors for sweeps: where the jobs of a sweep run (this process, a process pool, SLURM).

Jobs (one per config, training all its missing seeds) go through a
:class:`concurrent.futures.Executor`; see :func:`make_executor`:

- ``inline`` (default): in this process, one after the other.
- ``process``: a :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes
  (started with ``spawn``), each limited to ``cpu_count // workers`` threads (unless
  ``OMP_NUM_THREADS`` says otherwise). Each worker ends when the sweep process dies, even by
  ``SIGKILL`` (on Linux the kernel kills it, ``PR_SET_PDEATHSIG``; elsewhere a thread watches
  the parent).
- ``submitit``: a SLURM cluster through ``submitit.AutoExecutor`` (without SLURM, submitit runs
  the jobs as local subprocesses). Cluster options go to ``update_parameters``, e.g.
  ``--submitit-param slurm_partition=gpu --submitit-param gpus_per_node=1
  --submitit-param timeout_min=120``; logs and pickles go to ``--submitit-folder``, which must be
  on a filesystem the compute nodes share. This process collects the results and writes the file,
  so keep it alive (e.g. in ``tmux``) until the sweep ends; if it dies, running it again resubmits
  the unfinished runs.

  **The submitit folder is trusted code.** Submitit sends each job to its node and each result
  back as a pickle in that folder, and unpickling runs code: whoever can write to the folder can
  run code in the sweep process (and in the jobs). Use a folder only you can write to: the
  sweep creates a missing one with mode ``0700`` and warns when an existing one is writable by
  group or others.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import signal
import stat
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

EXECUTORS = ("inline", "process", "submitit")


def check_executor(kind: str | cf.Executor, workers: int | None) -> None:
    """``ValueError`` for an unknown executor kind or a non-positive number of workers."""
    if isinstance(kind, str) and kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}.")


class InlineExecutor(cf.Executor):
    """Runs each job at submission, in this process: the default, and the easiest to debug."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


class SubmititExecutor(cf.Executor):
    """A ``concurrent.futures`` face for a submitit executor (``AutoExecutor`` on SLURM,
    ``LocalExecutor``, ``DebugExecutor``): a thread polls the jobs and completes their futures."""

    def __init__(self, executor: Any, poll_interval_s: float = 1.0):
        self.executor = executor
        self.poll_interval_s = poll_interval_s
        self._jobs: list[tuple[Any, cf.Future]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="submitit-watcher", daemon=True)
        self._watcher.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        job = self.executor.submit(fn, *args, **kwargs)
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._jobs.append((job, future))
        return future

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                jobs = list(self._jobs)
            for job, future in jobs:
                if not job.done():
                    continue
                try:
                    future.set_result(job.result())
                except Exception as error:
                    future.set_exception(error)
                with self._lock:
                    self._jobs.remove((job, future))
            self._stop.wait(self.poll_interval_s)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with self._lock:
                for job, _ in self._jobs:
                    job.cancel(check=False)
        while wait and not cancel_futures and self._jobs:
            time.sleep(self.poll_interval_s)
        self._stop.set()


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_S = 1.0


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _die_with_parent(parent: int) -> None:
    """End this process when ``parent`` (the sweep) dies, however it dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the kernel was asked to tell us
                os._exit(1)
            return
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watcher", daemon=True).start()


def _start_worker(threads: int, parent: int) -> None:
    """Worker initializer, before torch is imported: ``threads`` OpenMP threads (what torch
    uses) unless ``OMP_NUM_THREADS`` is set already, and no life after the sweep's."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _die_with_parent(parent)


def _private_folder(folder: Path) -> list[Path]:
    """Create ``folder`` (mode ``0700``) if missing, returning the folders made; warn when an
    existing one can be written by group or others (see the module docstring)."""
    made = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    for path in made:
        path.mkdir(mode=0o700)
    if not made:
        status = os.stat(folder)
        if status.st_uid != os.getuid():
            warnings.warn(
                f"submitit folder {folder} belongs to another user (uid {status.st_uid}): they can run "
                "code in this sweep (submitit reads results back as pickles). Use a folder of your own.",
                stacklevel=3,
            )
        elif status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            warnings.warn(
                f"submitit folder {folder} is writable by other users: whoever can write there can run "
                "code in this sweep (submitit reads results back as pickles). Use a folder only you can write.",
                stacklevel=3,
            )
    return made


def default_workers() -> int:
    """Worker processes for ``process``: one per GPU when CUDA is present (each worker holds a
    CUDA context, and contexts on one GPU only take turns), else one per CPU core."""
    import torch  # here, not at import: workers import this module before their first job

    return torch.cuda.device_count() or os.cpu_count() or 1


def make_executor(
    kind: str = "inline",
    workers: int | None = None,
    submitit_folder: str | os.PathLike = "submitit_logs",
    submitit_parameters: Mapping[str, Any] | None = None,
) -> cf.Executor:
    """An executor of kind ``inline``, ``process`` or ``submitit`` (see the module docstring).

    ``workers`` is the number of processes for ``process`` (default :func:`default_workers`:
    one per GPU, else one per CPU core); ``submitit_parameters`` go to
    ``AutoExecutor.update_parameters``.
    """
    check_executor(kind, workers)
    if kind == "inline":
        return InlineExecutor()
    if kind == "process":
        workers = workers or default_workers()
        return cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(max(1, (os.cpu_count() or 1) // workers), os.getpid()),
        )
    try:
        import submitit
    except ImportError:
        raise ValueError("executor 'submitit' needs the submitit package (pip install submitit).") from None
    folder = Path(submitit_folder).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"submitit_folder {folder} exists and is not a directory.")
    made = _private_folder(folder)
    try:
        auto = submitit.AutoExecutor(folder=folder)
        auto.update_parameters(**dict(submitit_parameters or {}))
    except (AssertionError, NameError, TypeError, ValueError) as error:  # submitit's errors for bad parameters
        for path in reversed(made):  # leave no trace of a refused sweep (only empty folders go)
            with contextlib.suppress(OSError):
                path.rmdir()
        reason = str(error).splitlines()[0] if str(error) else f"{type(error).__name__} for {dict(submitit_parameters or {})}"
        raise ValueError(f"submitit_parameters: {reason}") from None
    return SubmititExecutor(auto)
