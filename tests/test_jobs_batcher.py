"""jobs.Batcher: many small jobs become one per window, and nothing added is left behind."""
from __future__ import annotations

import threading
import time

from hotline import jobs
from tests.telephony_helpers import wait_for


class Collect:
    """A task in the shape jobs.enqueue runs in-process (`.run`), recording each batch it gets."""

    name = "test.collect"

    def __init__(self) -> None:
        self.batches: list[list] = []
        self.lock = threading.Lock()

    def run(self, items):
        with self.lock:
            self.batches.append(list(items))


def test_items_within_a_window_go_out_as_one_job_and_the_last_is_not_left_behind():
    jobs.configure(None, "inprocess")
    task = Collect()
    batcher = jobs.Batcher(lambda: task, window=0.2, max_items=1000)
    for n in range(50):
        batcher.add(n)
    assert wait_for(lambda: task.batches, timeout=5)
    time.sleep(0.3)  # a second job would have been sent by now
    assert task.batches == [list(range(50))]
    batcher.add("late")  # a new quiet period: its own job, without any further add
    assert wait_for(lambda: len(task.batches) == 2, timeout=5)
    assert task.batches[1] == ["late"]


def test_a_full_batch_goes_out_at_once_and_flush_sends_the_rest():
    jobs.configure(None, "inprocess")
    task = Collect()
    batcher = jobs.Batcher(lambda: task, window=60, max_items=10)
    for n in range(25):
        batcher.add(n)
    assert wait_for(lambda: len(task.batches) == 2, timeout=5)
    batcher.flush()
    assert wait_for(lambda: len(task.batches) == 3, timeout=5)
    assert sorted(x for b in task.batches for x in b) == list(range(25))
    assert sorted(len(b) for b in task.batches) == [5, 10, 10]


class Nudged(Collect):
    def run(self):
        with self.lock:
            self.batches.append(None)


def test_a_nudge_batcher_runs_the_task_once_per_window_without_arguments():
    jobs.configure(None, "inprocess")
    task = Nudged()
    batcher = jobs.Batcher(lambda: task, window=0.2, items=False)
    for n in range(500):
        batcher.add(n)
    assert wait_for(lambda: task.batches, timeout=5)
    time.sleep(0.3)
    assert task.batches == [None]
