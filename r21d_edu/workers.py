"""Run independent jobs in N worker processes, one CPU thread each, with one progress stream.

A training study is many runs that share nothing — each (model, seed) builds
its own network from its own seed and draws its own batches — so they can run
side by side on a machine's cores. What makes that safe to do:

- every job runs in a fresh process started with ``spawn`` (no copy of the
  parent's threads or random state), with the thread count fixed before any
  work, so a job computes bitwise what it computes when run on its own;
- the parent hands out jobs one at a time and gets back, on one queue, each
  job's outcome and its progress ticks (clips trained), for a single bar over
  the whole study;
- a worker that dies (killed, out of memory) or raises stops the study at once:
  the other workers are terminated and the error names the job; everything
  already finished has been handed back, and the jobs themselves checkpoint,
  so a resume continues where they were;
- Ctrl+C in the parent terminates the workers too.

`run_jobs` is generic: it takes any picklable top-level function
``function(job, report)``, where ``report(clips)`` forwards progress.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["WorkerError", "run_jobs"]

#: How often (seconds) the parent looks whether a worker died while none reported.
_POLL_SECONDS = 0.5


class WorkerError(RuntimeError):
    """A job failed in a worker, or a worker died; the message names the job.

    ``worker_traceback`` holds the worker's traceback when a job raised.
    """

    def __init__(self, message: str, worker_traceback: str = "") -> None:
        super().__init__(message)
        self.worker_traceback = worker_traceback


def _worker(function: Callable, threads: int, jobs: mp.Queue, results: mp.Queue) -> None:
    # Fixed before any work: the thread count changes how sums are rounded.
    torch.set_num_threads(threads)
    try:
        while True:
            item = jobs.get()
            if item is None:
                return
            index, job = item
            results.put(("start", index))

            def report(clips: int, index: int = index) -> None:
                results.put(("progress", index, clips))

            try:
                outcome = function(job, report)
            except KeyboardInterrupt:
                return
            except BaseException as error:  # handed to the parent, which stops the study
                results.put(("error", index, f"{type(error).__name__}: {error}",
                             traceback.format_exc()))
                return
            results.put(("done", index, outcome))
    except KeyboardInterrupt:
        return


def run_jobs(
    function: Callable[[Any, Callable[[int], None]], Any],
    jobs: Sequence[Any],
    workers: int,
    threads: int = 1,
    *,
    on_progress: Callable[[int], None] | None = None,
    on_done: Callable[[int, Any], None] | None = None,
    describe: Callable[[Any], str] = repr,
) -> list[Any]:
    """Run ``function(job, report)`` for every job in `workers` processes.

    Args:
        function: a top-level (picklable) function; `report` forwards progress
            (a number of clips) to `on_progress` in the parent.
        jobs: picklable job descriptions, handed out in order.
        workers: processes to start (no more than there are jobs).
        threads: ``torch.set_num_threads`` in each worker.
        on_progress: called in the parent with each reported number.
        on_done: called in the parent with ``(index, outcome)`` as each job
            finishes, in the order they finish (write results here).
        describe: how the error message names a job.

    Returns:
        The outcomes, in the order of `jobs`.

    Raises:
        WorkerError: a job raised (its message and the worker's traceback are
            in the error), or a worker process died; the other workers are
            terminated first.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if not jobs:
        return []
    context = mp.get_context("spawn")
    job_queue, result_queue = context.Queue(), context.Queue()
    for item in enumerate(jobs):
        job_queue.put(item)
    count = min(workers, len(jobs))
    for _ in range(count):
        job_queue.put(None)  # one stop sign per worker
    processes = [context.Process(target=_worker, args=(function, threads, job_queue,
                                                       result_queue), daemon=True)
                 for _ in range(count)]
    for process in processes:
        process.start()
    outcomes: dict[int, Any] = {}
    started: set[int] = set()
    try:
        while len(outcomes) < len(jobs):
            try:
                message = result_queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    running = sorted(started - set(outcomes))
                    names = ", ".join(describe(jobs[i]) for i in running) or "no job"
                    raise WorkerError(
                        f"a worker process died (exit code {dead[0].exitcode}) while running "
                        f"{names}; the finished jobs are kept") from None
                if all(p.exitcode is not None for p in processes):
                    raise WorkerError("every worker stopped before all jobs were done") from None
                continue
            kind, index = message[0], message[1]
            if kind == "start":
                started.add(index)
            elif kind == "progress":
                if on_progress is not None:
                    on_progress(message[2])
            elif kind == "done":
                outcomes[index] = message[2]
                if on_done is not None:
                    on_done(index, message[2])
            else:
                raise WorkerError(f"{describe(jobs[index])} failed: {message[2]}", message[3])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
        job_queue.cancel_join_thread()
        result_queue.cancel_join_thread()
    return [outcomes[i] for i in range(len(jobs))]
