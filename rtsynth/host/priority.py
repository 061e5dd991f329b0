"""The process's other threads just below a real-time audio thread: no priority inversion on the GIL.

Every thread of the audio process shares one interpreter lock. The audio
callback gives it up at each numba ``nogil`` kernel and onnxruntime call and
whenever another thread asks for it (after the switch interval, 0.5 ms), so
the main thread (the session's monitor, the ``--ui`` feed), the demo player,
the OSC server and JACK's notification thread (xrun callbacks) all take it for
moments. If such a thread holds the lock and is then preempted, because it runs
under the ordinary scheduler and the JACK server, the other clients and other
programs want the two cores, the real-time callback waits for a thread that is
not running: a classic priority inversion, which shows as an isolated block of
several milliseconds or a callback that starts late.

The cure without changing Python: while the stream runs, each of those
threads runs ``SCHED_FIFO`` at priority :data:`HELPER_PRIORITY`, the lowest
real-time priority, so nothing ordinary preempts it while it holds the lock
and the audio thread (JACK's client threads run tens of levels higher) still
preempts it. They sleep almost all the time, so they take nothing from other
programs, and what they start (threads, the ``--ui`` view process) starts
ordinary. This is done only when the audio thread itself runs real-time (JACK
started with ``-R``, as on stage): an ordinary audio thread must not be
outranked by its own helpers. Linux only; where the system refuses (no
``rtprio`` limit) nothing changes.
"""

import contextlib
import os

__all__ = ["HELPER_PRIORITY", "helpers_below_audio", "thread_policies"]

#: SCHED_FIFO priority of the helper threads (the lowest real-time level)
HELPER_PRIORITY = 1


@contextlib.contextmanager
def helpers_below_audio(priority=HELPER_PRIORITY):
    """While the block runs, the process's ordinary threads run SCHED_FIFO at ``priority``
    if a thread of the process already runs real-time above it; restored on exit.

    Threads and programs started from a raised thread start ordinary
    (``SCHED_RESET_ON_FORK``): the ``--ui`` view process and its imports never
    run real-time. Yields the thread ids raised (empty when nothing was, or could be, changed).
    """
    raised = _raise_ordinary(priority)
    try:
        yield [tid for tid, _ in raised]
    finally:
        for tid, (policy, prio) in raised:
            try:
                os.sched_setscheduler(tid, policy, os.sched_param(prio))
            except OSError:  # that thread has ended
                pass


def thread_policies():
    """``{thread id: (policy, priority)}`` of this process's threads ({} off Linux)."""
    if not hasattr(os, "sched_getscheduler"):
        return {}
    out = {}
    for name in _task_ids():
        tid = int(name)
        try:
            out[tid] = (os.sched_getscheduler(tid), os.sched_getparam(tid).sched_priority)
        except OSError:  # ended meanwhile
            continue
    return out


def _raise_ordinary(priority):
    policies = thread_policies()
    realtime = (getattr(os, "SCHED_FIFO", -1), getattr(os, "SCHED_RR", -1))
    top = max((p for policy, p in policies.values() if policy in realtime), default=0)
    if top <= priority:
        return []  # no real-time audio thread above the helpers' level
    raised = []
    for tid, old in policies.items():
        if old[0] in realtime:
            continue
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0),
                                  os.sched_param(priority))
        except OSError:  # not permitted, or the thread ended
            continue
        raised.append((tid, old))
    return raised


def _task_ids():
    try:
        return os.listdir("/proc/self/task")
    except OSError:
        return []
