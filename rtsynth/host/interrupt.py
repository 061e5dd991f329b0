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

__all__ = ["deferred_sigint", "interruption_point"]

_pending = threading.Event()


@contextlib.contextmanager
def deferred_sigint():
    """Defer Ctrl-C to the next :func:`interruption_point` (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _pending.clear()
    previous = signal.signal(signal.SIGINT, lambda signum, frame: _pending.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    interruption_point()


def interruption_point():
    """Raise KeyboardInterrupt if Ctrl-C arrived since the last call."""
    if _pending.is_set():
        _pending.clear()
        raise KeyboardInterrupt
