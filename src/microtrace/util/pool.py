"""The one process pool: work spread over worker processes, its results in the order of the work. The
explorer lays out its views in chunks with it (viz/explore/page.py); attention, gradflow and the film
replay pieces of a run with it (tracer/analysis/step_ranges.py).

Workers are forked, never spawned: a forked worker starts at once and reads what this process holds
(the explorer's graph and views, hundreds of MB for a big step) where it lies, never pickled, while a
spawned one would import microtrace again and be sent all it reads. microtrace starts no threads of its
own, which is what makes fork safe. Where fork does not exist (Windows) the work runs here, in order:
the same results, as every caller's results are the same with any number of workers.
"""

import multiprocessing
from collections.abc import Callable, Sequence
from queue import Empty
from typing import Any

_reports = None  # in a worker: the queue its progress goes to (None: nobody listens)


def in_order(fn: Callable, items: Sequence, jobs: int, *args: Any, on_step: Callable | None = None) -> list:
    """`[fn(item, *args) for item in items]`, computed by up to `jobs` forked workers (never more than
    there are items). `fn` must be a module-level function (the workers call it by name); what it reads
    besides its arguments is what this process held when the workers were forked. With `on_step`, `fn`
    is called with `on_step=` too, and what the workers report reaches `on_step` here as they go (a
    progress bar on stderr)."""
    workers = max(1, min(jobs, len(items)))  # `--jobs 10**7` must not fork ten million processes
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        told = {"on_step": on_step} if on_step else {}
        return [fn(item, *args, **told) for item in items]
    context = multiprocessing.get_context("fork")
    queue = context.Queue() if on_step else None
    with context.Pool(workers, initializer=_report_to, initargs=(queue,)) as pool:
        done = pool.starmap_async(_call, [(fn, item, args) for item in items], chunksize=1)
        if on_step:
            _relay(queue, done, on_step)
        return done.get()


def _report_to(queue):
    global _reports
    _reports = queue


def _call(fn, item, args):
    return fn(item, *args, **({"on_step": _reports.put} if _reports is not None else {}))


def _relay(queue, done, on_step):
    """Pass what the workers put on `queue` to `on_step` until the work is done, then what is left."""
    while True:
        finished = done.ready()
        try:
            on_step(queue.get(timeout=0.05))
        except Empty:
            if finished:
                return
