"""Helper threads just below a real-time audio thread (no priority inversion on the GIL)."""

import os
import subprocess
import sys
import threading

import pytest

from rtsynth.host import priority
from rtsynth.host.priority import HELPER_PRIORITY, helpers_below_audio, thread_policies

FIFO = os.SCHED_FIFO
RESET = getattr(os, "SCHED_RESET_ON_FORK", 0)


class _RealtimeThread:
    """A thread of this process running SCHED_FIFO at ``prio`` (a stand-in audio thread)."""

    def __init__(self, prio=20):
        self.prio, self.go, self.ready, self.error = prio, threading.Event(), threading.Event(), None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            os.sched_setscheduler(0, FIFO, os.sched_param(self.prio))
        except OSError as e:
            self.error = e
        self.ready.set()
        self.go.wait(30)

    def __enter__(self):
        self.thread.start()
        self.ready.wait(10)
        if self.error is not None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI runs as root and must allow SCHED_FIFO: {self.error}")
            pytest.skip(f"this account may not use SCHED_FIFO: {self.error}")
        return self

    def __exit__(self, *exc):
        self.go.set()
        self.thread.join(10)


def test_ordinary_threads_go_just_below_a_realtime_thread_and_come_back():
    main = threading.get_native_id()
    before = thread_policies()
    assert before[main][0] & ~RESET == os.SCHED_OTHER
    with _RealtimeThread(20):
        with helpers_below_audio() as raised:
            assert main in raised
            now = thread_policies()
            assert now[main] == (FIFO | RESET, HELPER_PRIORITY)
            assert max(p for pol, p in now.values() if pol == FIFO) == 20  # the audio one
            # what a raised thread starts is ordinary: a thread, and a program (the --ui view)
            seen = []
            t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0)))
            t.start()
            t.join()
            child = subprocess.run([sys.executable, "-c",
                                    "import os; print(os.sched_getscheduler(0))"],
                                   capture_output=True, text=True, check=True)
            assert seen == [os.SCHED_OTHER] and int(child.stdout) == os.SCHED_OTHER
        assert thread_policies()[main] == before[main]


def test_nothing_changes_without_a_realtime_thread():
    before = thread_policies()
    assert not any(pol & ~RESET in (FIFO, os.SCHED_RR) for pol, _ in before.values())
    with helpers_below_audio() as raised:
        assert raised == [] and thread_policies() == before


def test_a_refused_change_leaves_the_thread_as_it_was(monkeypatch):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")

    with _RealtimeThread(20):
        monkeypatch.setattr(priority.os, "sched_setscheduler", refuse)
        before = thread_policies()
        with helpers_below_audio() as raised:
            assert raised == [] and thread_policies() == before
