"""Ctrl-C at safe points: a long offline job stops between blocks, never inside a library.

Python raises KeyboardInterrupt wherever the main thread happens to be when
SIGINT arrives: inside numba's compiler, an onnxruntime call or a finaliser,
where it is reported as "Exception ignored" (a traceback on stderr) or leaves a
half-built object behind. Inside :func:`deferred_sigint`, SIGINT only sets a
flag; the job's loop calls :func:`interruption_point` once a block, which
raises KeyboardInterrupt there, so the temporary output is removed by the
usual ``finally`` and the exit is clean. A Ctrl-C that arrives after the last
block is raised when the context ends.
"""

import contextlib
import signal
import threading

__all__ = ["deferred_sigint", "interruption_point", "sigint_sets"]

_pending = threading.Event()


@contextlib.contextmanager
def sigint_sets(event):
    """While inside, Ctrl-C (SIGINT) sets ``event`` instead of raising KeyboardInterrupt.

    Setting an event cannot be lost, unlike a KeyboardInterrupt raised inside a
    finaliser that ``gc.collect`` runs (Python reports it as "Exception
    ignored" and drops it). Outside the main thread, where handlers cannot be
    installed, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: event.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def deferred_sigint():
    """Defer Ctrl-C to the next :func:`interruption_point` (or the end of the context)."""
    _pending.clear()
    with sigint_sets(_pending):
        yield
    interruption_point()


def interruption_point():
    """Raise KeyboardInterrupt if Ctrl-C arrived since the last call."""
    if _pending.is_set():
        _pending.clear()
        raise KeyboardInterrupt
