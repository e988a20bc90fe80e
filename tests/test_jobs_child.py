"""jobs.in_child_process: the result (or the exception) of a function computed in a child process,
and a shutdown that does not wait for a child still computing."""
from __future__ import annotations

import os
import threading
import time

import pytest

from hotline import jobs
from tests.telephony_helpers import wait_for


def test_the_result_and_the_exception_come_back_from_a_child_at_low_priority():
    pid, niceness = jobs.in_child_process(_pid_and_niceness)
    assert pid != os.getpid() and niceness >= os.nice(0) + jobs.CHILD_NICENESS
    with pytest.raises(ValueError, match="bad input"):
        jobs.in_child_process(_fail, "bad input")


def test_stopping_the_children_ends_a_waiting_job_at_once():
    outcome = {}

    def job():
        try:
            outcome["result"] = jobs.in_child_process(time.sleep, 600)
        except jobs.ChildStopped as exc:
            outcome["stopped"] = exc

    thread = threading.Thread(target=job)
    thread.start()
    assert wait_for(lambda: jobs._children, 60)  # the child has started
    child = next(iter(jobs._children))
    jobs.stop_children()
    thread.join(60)
    assert not thread.is_alive() and "stopped" in outcome and "result" not in outcome
    assert not child.is_alive() and not jobs._children


def _pid_and_niceness():
    return os.getpid(), os.nice(0)


def _fail(message):
    raise ValueError(message)
