"""Tutorial 03's coding exercise 03.5 (time a layer correctly): its check reads the protocol.

Each mistake below is one a learner makes when timing by hand; the check must name the
first case and the step of the protocol that is wrong, and never show the solution.
"""

from __future__ import annotations

import time

import pytest
import torch

from r21d_edu.exercises import exercise
from r21d_edu.exercises._base import BEGIN, END


def _timed(layer, clip, *, threads, warmup=3, repeats=10, clock=time.perf_counter,
           synchronize=lambda: None, warm=True, sync_first=True, set_threads=True,
           restore=True, grad=False, scale=1.0):
    """A time_layer with switches for each mistake."""
    callers = torch.get_num_threads()
    if set_threads:
        torch.set_num_threads(threads)
    try:
        with torch.set_grad_enabled(grad):
            for _ in range(warmup if warm else 0):
                layer(clip)
            synchronize()
            times = []
            for _ in range(repeats):
                start = clock()
                layer(clip)
                if sync_first:
                    synchronize()
                stop = clock()
                if not sync_first:
                    synchronize()
                times.append((stop - start) * scale)
    finally:
        if restore:
            torch.set_num_threads(callers)
    return times


def _variant(**switches):
    def time_layer(layer, clip, **kwargs):
        return _timed(layer, clip, **kwargs, **switches)
    return time_layer


def _read_then_sync(layer, clip, **kwargs):
    """The commonest mistake: stop the clock first, synchronize afterwards."""
    return _timed(layer, clip, **kwargs, sync_first=False)


def _own_clock(layer, clip, *, threads, warmup=3, repeats=10, clock=None, synchronize=None):
    """Ignores the clock it is given."""
    return _timed(layer, clip, threads=threads, warmup=warmup, repeats=repeats,
                  synchronize=synchronize)


def _whole_loop(layer, clip, *, threads, warmup=3, repeats=10, clock=time.perf_counter,
                synchronize=lambda: None):
    """One sample for all repeats, divided: the average, not per-call times."""
    torch.set_num_threads(threads)
    with torch.inference_mode():
        for _ in range(warmup):
            layer(clip)
        synchronize()
        start = clock()
        for _ in range(repeats):
            layer(clip)
        synchronize()
        return [(clock() - start) / repeats] * repeats


MISTAKES: dict[str, object] = {"03.5": _read_then_sync}

CASES = {
    "the clock read before synchronize": (_read_then_sync, "the clock was read before synchronize()"),
    "no warm-up": (_variant(warm=False), "was timed before any warm-up call"),
    "threads not set": (_variant(set_threads=False), "thread(s); threads="),
    "threads not restored": (_variant(restore=False), "set the caller's setting back"),
    "autograd on": (_variant(grad=True), "gradients enabled"),
    "milliseconds": (_variant(scale=1e3), "return seconds"),
    "a wrong time": (_variant(scale=0.5), "smaller than the clock's difference"),
    "its own clock": (_own_clock, "was never read"),
    "one sample for all calls": (_whole_loop, "ran between clock reads"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_mistake_is_named_by_its_case_and_step(name: str) -> None:
    mistake, step = CASES[name]
    threads = torch.get_num_threads()
    feedback = exercise("03.5").check(mistake)
    assert feedback.correct is False
    assert feedback.text.startswith("case "), feedback.text
    assert step in feedback.text, feedback.text
    assert torch.get_num_threads() == threads  # the check leaves the learner's setting alone


def test_the_mistake_starts_with_case_1_and_never_shows_the_solution() -> None:
    item = exercise("03.5")
    region = item.source.split(BEGIN, 1)[1].split(END, 1)[0]
    lines = [line.strip() for line in region.splitlines() if len(line.strip()) >= 25]
    assert lines
    for hand_in in (MISTAKES["03.5"], "abc", object(), item.blank()):
        text = item.check(hand_in).text
        assert not any(line in text for line in lines), text
    assert item.check(MISTAKES["03.5"]).text.startswith("case 1: ")


def test_the_blank_skeleton_is_told_to_write_its_code() -> None:
    feedback = exercise("03.5").check(exercise("03.5").blank())
    assert feedback.correct is False and "NotImplementedError" in feedback.text


def test_the_solution_passes_and_times_a_real_layer() -> None:
    item = exercise("03.5")
    time_layer = item.solve()
    assert item.check(time_layer).correct
    threads = torch.get_num_threads()
    layer = torch.nn.Conv3d(2, 2, 3, padding=1)
    times = time_layer(layer, torch.randn(1, 2, 4, 8, 8), threads=1, warmup=1, repeats=3)
    assert len(times) == 3 and all(t > 0 for t in times)
    assert torch.get_num_threads() == threads and torch.is_grad_enabled()
