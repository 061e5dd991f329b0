"""The performer view's process: ``python -m rtsynth.host.ui_process READ_FD WRITE_FD``.

Started by :class:`rtsynth.host.ui_bridge.View` with the terminal as its
stdin/stdout. It reads ``{"init": ...}`` (with the descriptor and layout of
the shared :class:`~rtsynth.host.ui_link.UiLink` it inherited), then message
lines ``{"say": [...]}`` and finally ``{"quit": true}`` as JSON lines from
READ_FD; each frame it takes its snapshot of the session from the shared link
itself (:class:`~rtsynth.host.ui_link.LinkReader`). It runs the textual app
(:mod:`rtsynth.host.ui`) and writes the engine commands it makes (notes,
parameter moves, ``["remap", path]`` after MIDI learn) as JSON lists to
WRITE_FD.
"""

import collections
import json
import os
import signal
import sys
import threading

from ..control.params import ParamSpec
from .ui import LiveView
from .ui_link import LinkReader, UiLink
from .ui_session import LearnAdapter, ViewSession

__all__ = ["main", "NICE"]

#: the view process's niceness where SCHED_IDLE is not available (see _yield_cpu)
NICE = 19


def main(argv=None):
    """Run the view; return the exit status.

    Ctrl-C is a key here (the terminal is raw); SIGINT from outside is left
    to the audio process, which ends the view.
    """
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _yield_cpu()
    rfd, wfd = int(argv[0]), int(argv[1])
    reader = _Reader(rfd)
    init = reader.first()
    if init is None:
        return 1
    specs = [ParamSpec(**{**d, "choices": tuple(d["choices"])}) for d in init["specs"]]
    shared = init["link"]
    reader.feed = LinkReader(UiLink.attach(shared["fd"], shared["layout"]), init["rate"])

    def send(cmd):
        try:
            os.write(wfd, json.dumps(cmd).encode() + b"\n")
            return True
        except OSError:
            return False

    session = ViewSession(specs, send, title=init["title"], period_ms=init["period_ms"],
                          has_input=init["has_input"])
    session.learn = _learner(init.get("learn"), send, session)
    try:
        LiveView(session, reader.poll).run()
    finally:
        session.close()
        os.close(wfd)
    return 0


def _learner(learn, send, session):
    """MIDI learn on the session's mapping file (its defaults when the file is new)."""
    if not learn:
        return None
    from ..control.learn import MidiLearn
    from ..control.mapping import instrument_mapping

    path = learn["path"]
    try:
        learner = (MidiLearn.from_file(path) if os.path.exists(path)
                   else MidiLearn(instrument_mapping(learn["instrument"], learn["fx"])))
    except Exception as e:  # a mapping this view cannot extend: the rest still works
        session.say(f"MIDI learn unavailable: {' '.join(str(e).split())}")
        return None
    return LearnAdapter(learner, path, lambda p: send(["remap", str(p)]))


def _yield_cpu():
    """Make the view the last in line for the CPU: it draws from leftover time only.

    SCHED_IDLE (Linux) runs the view only when no ordinary thread wants the
    core and lets any of them (the JACK server, the audio callback) preempt
    it at once. Measured on the 2-core machine: the view at nice 10 still
    added xruns while the audio thread's own time did not grow. On a
    saturated machine the view lags; the audio does not.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(NICE)
        except OSError:
            pass


class _Reader:
    """The view's input: the shared link's state each frame, and the message lines from
    the audio process, read on a thread (the app polls the backlog)."""

    def __init__(self, fd):
        self._file = os.fdopen(fd, "rb")
        self._backlog = collections.deque()
        self._done = False
        self.feed = None  # the LinkReader, once the first message named the link

    def first(self):
        line = self._file.readline()
        if not line:
            return None
        threading.Thread(target=self._run, daemon=True).start()
        return json.loads(line).get("init")

    def _run(self):
        for line in self._file:
            msg = json.loads(line)
            if msg.get("quit"):
                break
            self._backlog.append(msg)
        self._done = True

    def poll(self):
        """[one snapshot] (None once the audio process said quit)."""
        say = []
        while self._backlog:
            say.extend(self._backlog.popleft().get("say", ()))
        if self._done and not say:
            return None
        return [self.feed.snapshot(say)]


if __name__ == "__main__":
    sys.exit(main())
