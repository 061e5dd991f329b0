"""The live session's main thread while the audio callback runs: housekeeping nobody hears.

The audio callback may not print, collect garbage or talk to the server
(design.md), so everything that must still happen runs here, in the main
thread, a few times a second:

- **Health**: a JACK server that shut down or a callback that raised ends the
  session with the host's one-sentence :class:`~rtsynth.errors.DeviceError`
  (checked every ``poll`` seconds, so a dead server is reported well within 2 s).
- **Garbage collection**: :func:`rtsynth.host.runtime.realtime_python` disables
  the automatic collector for the whole stream (so no collection can start in
  the callback, whichever thread allocated last) and ``gc.freeze()`` moves
  everything built before the stream into the permanent generation. Young
  objects made since (MIDI, UI, this loop) are collected here with
  ``gc.collect(0)`` every ``gc_interval`` seconds: a pass over a few hundred
  objects, tens of microseconds of GIL, never inside a callback.
- **Model faults**: an engine that silenced a NaN/Inf model output counts it
  (``model_nonfinite``); the first time a count moves, one warning line.
- **MIDI sources**: the watchers of :mod:`rtsynth.host.midi_watch` reconnect
  sources that went away and came back, and their sentences are printed.
"""

import gc
import sys
import threading
import time

__all__ = ["Monitor", "check_host", "model_faults"]


class Monitor:
    """Poll a running host until a deadline, Ctrl-C or a device failure.

    Parameters
    ----------
    host : JackHost or PortAudioHost
        Started; its ``engine`` is read for fault counters.
    watchers : sequence
        Objects with ``poll() -> list of str`` (MIDI watchers).
    err : file, optional
        Where warnings go (default ``sys.stderr``).
    poll, gc_interval, watch_interval : float
        Seconds between health checks, young-generation collections and
        watcher polls.
    model : str
        Names the model in the fault warning.
    """

    def __init__(self, host, watchers=(), err=None, *, poll=0.05, gc_interval=1.0,
                 watch_interval=0.25, model="the model"):
        self.host, self.watchers = host, list(watchers)
        self.err = err
        self.poll, self.gc_interval, self.watch_interval = poll, gc_interval, watch_interval
        self.model = model
        #: set by Ctrl-C (see :func:`rtsynth.host.interrupt.sigint_sets`) or anyone; ends run()
        self.stop = threading.Event()
        self.collections = 0
        self._faults_said = False
        now = time.monotonic()
        self._next_gc = now + gc_interval
        self._next_watch = now + watch_interval

    def run(self, duration=None):
        """Loop until ``duration`` seconds pass (None: until Ctrl-C, which propagates).

        Raises
        ------
        rtsynth.errors.DeviceError
            The server shut down or the callback failed (see :func:`check_host`).
        """
        deadline = None if duration is None else time.monotonic() + duration
        while not self.stop.is_set() and (deadline is None or time.monotonic() < deadline):
            self.stop.wait(self.poll)
            check_host(self.host)
            self.tick(time.monotonic())

    def tick(self, now):
        """One round of housekeeping at time ``now`` (``time.monotonic()``)."""
        if now >= self._next_gc:
            self._next_gc = now + self.gc_interval
            gc.collect(0)
            self.collections += 1
        if not self._faults_said and model_faults(self.host.engine):
            self._faults_said = True
            self._say(f"rtsynth: warning: {self.model} produced NaN/Inf values; those frames "
                      f"were silenced and playing goes on (said once).")
        if now >= self._next_watch:
            self._next_watch = now + self.watch_interval
            for w in self.watchers:
                for line in w.poll():
                    self._say(line)

    def _say(self, line):
        print(line, file=self.err or sys.stderr, flush=True)


def check_host(host):
    """Raise the host's DeviceError when its server shut down or its callback failed."""
    ended = getattr(host, "shutdown", None) or getattr(host, "finished", None)  # JACK, PortAudio
    if getattr(host, "error", None) is not None or (ended is not None and ended.is_set()):
        host.wait()  # returns at once with the right one-sentence DeviceError


def model_faults(engine):
    """Model outputs an engine (or a chain's source and effect) silenced for being non-finite."""
    parts = [engine, getattr(engine, "source", None), getattr(engine, "effect", None)]
    return sum(getattr(p, "model_nonfinite", 0) for p in parts if p is not None)
