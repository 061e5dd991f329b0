"""The audio process's side of the performer view, which runs in a process of its own.

Why a process: textual redraws are tens of milliseconds of Python a second,
and in the audio process every one of them would hold the GIL that the audio
callback needs back after each numba or onnxruntime call (up to the 0.5 ms
switch interval per hand-back). Measured with the view in a thread (JACK dummy
48 kHz / 256, 8 voices, 10 s): p99 DSP load 33 % -> 93 % and 2 -> 100 xruns.
design.md: anything that runs Python beside the callback "must be light, or
live in another process".

What the view shows it reads from shared memory the audio callback writes
(:class:`~rtsynth.host.ui_link.UiLink`), on its own clock. So the audio
process's main thread does for the view only what the plain session does
(:class:`~rtsynth.host.monitor.Monitor` housekeeping, ``1 / POLL`` times a
second), plus reading the view's commands from its pipe into the link's
command queue and, rarely, writing a message line (a warning) to it. The
view (``python -m rtsynth.host.ui_process``) owns the terminal; textual is
never imported here.
"""

import errno
import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict

from ..errors import DeviceError, InputError
from .ui_params import view_specs
from .ui_session import FRAME_RATE

__all__ = ["Publisher", "View", "make_view", "POLL", "COMMAND_HEADS", "LEARN_FILE"]

#: seconds between the main thread's rounds (commands in, messages out, housekeeping)
POLL = 1.0 / FRAME_RATE
#: where MIDI learn in the view saves the mapping when the session has no ``--map``
LEARN_FILE = "rtsynth-map.toml"
#: the engine commands a view may send (anything else is ignored)
COMMAND_HEADS = ("note_on", "note_off", "all_notes_off", "latent", "knob", "gain", "wet",
                 "bypass", "adsr", "volume", "mode")


class Publisher:
    """What a view needs of a running host besides the shared link, and its commands back.

    Runs in the audio process's main thread. The snapshots themselves are the
    view's to take (:class:`~rtsynth.host.ui_link.LinkReader` on the shared
    link); this sends what the view needs to map and draw them.
    """

    def __init__(self, host, link, specs):
        self.host, self.link, self.specs = host, link, list(specs)
        self._said = []
        self.refused = 0  # malformed or refused commands from the view

    def init(self, title, learn=None):
        """The first message: what the view needs to draw the session, and ``learn``:
        ``{"path", "instrument", "fx"}`` for MIDI learn (see :func:`make_view`)."""
        period = getattr(self.host, "blocksize", getattr(self.host, "block", 0))
        return {"title": title, "specs": [asdict(s) for s in self.specs],
                "learn": learn, "rate": self.host.rate,
                "period_ms": 1000.0 * period / self.host.rate,
                "has_input": bool(getattr(self.host.engine, "needs_input", False)),
                "link": {"fd": self.link.fd, "layout": self.link.layout()}}

    def said(self):
        """The message lines since the last call (warnings, MIDI learn's answer)."""
        said, self._said = self._said, []
        return said

    def command(self, cmd):
        """Queue one command from the view (a JSON list) for the callback; False if refused.

        ``["remap", path]`` (MIDI learn saved the mapping file) swaps the host's
        mapper for one built from that file: one attribute store, which the
        callback picks up at its next block.
        """
        if isinstance(cmd, list) and len(cmd) == 2 and cmd[0] == "remap":
            return self._remap(str(cmd[1]))
        if not (isinstance(cmd, list) and cmd and cmd[0] in COMMAND_HEADS
                and all(isinstance(v, (int, float, bool)) for v in cmd[1:])):
            self.refused += 1
            return False
        return self.link.send(tuple(cmd))

    def _remap(self, path):
        from ..control import CommandMapper, load_mapping

        old = self.host.mapper
        try:
            mapper = CommandMapper(load_mapping(path, old.specs), old.specs, source=path)
        except InputError as e:
            self._said.append(f"MIDI learn: the mapping was not applied: {e}")
            return False
        mapper.automation = old.automation
        self.host.mapper = mapper
        return True

    # the Monitor prints its warnings here (the terminal belongs to the view)
    def write(self, text):
        if text.strip():
            self._said.append(text.strip())

    def flush(self):
        pass


def make_view(instrument, manifest, fx_manifest=None, map_path=None):
    """The :class:`View` :func:`rtsynth.host.live.run_live` runs for ``--ui``.

    MIDI learn in the view writes ``map_path`` (default :data:`LEARN_FILE`
    in the working folder, starting from the instrument's packaged map).

    Raises
    ------
    InputError
        stdin/stdout is not a terminal, or textual is not installed.
    """
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)):
        if stream is None or not stream.isatty():
            raise InputError(f"--ui: expected {name} to be a terminal (the view draws in it and "
                             f"reads the keys), found it redirected; run without --ui, or in "
                             f"a terminal.")
    if importlib.util.find_spec("textual") is None:
        raise InputError("--ui: expected the textual package for the performer view, found it "
                         "missing (pip install textual).")
    learn = {"path": str(map_path or LEARN_FILE), "instrument": instrument,
             "fx": fx_manifest is not None}
    return View(view_specs(instrument, manifest, fx_manifest), learn)


class View:
    """The view's process: started before the audio stream, then fed while it plays.

    :meth:`start` spawns ``python -m rtsynth.host.ui_process`` before the
    stream starts, so that its fork from this (large) process and its imports
    are done before the first audio block; it inherits the link's shared
    memory. Calling the view
    (``view(host, link, monitor, title, duration)``, as :func:`run_live` does)
    feeds it until it quits or ``duration`` s pass; :meth:`close` ends a view
    that was started and never run (the stream failed to start).

    Parameters
    ----------
    specs : list of ParamSpec
    learn : dict, optional
        ``{"path", "instrument", "fx"}`` for MIDI learn (see :func:`make_view`).
    """

    def __init__(self, specs, learn=None):
        self.specs, self.learn = list(specs), learn
        self.proc = None

    def start(self, link=None):
        """Spawn the view's process (once), sharing ``link``'s memory with it; it waits
        for its first message."""
        if self.proc is not None:
            return
        to_view_r, self._to_view = os.pipe()
        self._from_view, from_view_w = os.pipe()
        os.set_blocking(self._to_view, False)
        os.set_blocking(self._from_view, False)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rtsynth.host.ui_process", str(to_view_r),
                 str(from_view_w)],
                pass_fds=(to_view_r, from_view_w) + ((link.fd,) if link is not None else ()))
        finally:
            os.close(to_view_r)
            os.close(from_view_w)

    def __call__(self, host, link, monitor, title, duration=None):
        """Feed the view from a started host until it quits (or ``duration`` s pass).

        Raises the host's DeviceError if the stream fails meanwhile; Ctrl-C here
        (KeyboardInterrupt) ends the view too.
        """
        from .monitor import check_host

        self.start(link)
        pub = Publisher(host, link, self.specs)
        monitor.err = pub
        proc, pending = self.proc, b""
        deadline = None if duration is None else time.monotonic() + duration
        try:
            _send(self._to_view, {"init": pub.init(title, self.learn)})
            while proc.poll() is None and not monitor.stop.is_set():
                monitor.stop.wait(POLL)
                check_host(host)
                monitor.tick(time.monotonic())
                pending = _read_commands(self._from_view, pending, pub)
                said = pub.said()
                if said:
                    _send(self._to_view, {"say": said})
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            self.close()
            link.send(("all_notes_off",))  # notes the view's keyboard may still hold
        if proc.returncode not in (0, None, -15):
            raise DeviceError(f"--ui: expected the view process to end cleanly, found exit "
                              f"status {proc.returncode} (its message is above).")

    def close(self):
        """Tell the view to quit and wait for it (then kill it); safe to call again."""
        if self.proc is None or self._to_view is None:
            return
        _send(self._to_view, {"quit": True})
        os.close(self._to_view)
        self._to_view = None
        _finish(self.proc)
        os.close(self._from_view)


def _send(fd, message):
    """Write one JSON line; drop it when the view is behind (a full pipe) or gone."""
    try:
        os.write(fd, json.dumps(message, separators=(",", ":")).encode() + b"\n")
    except BlockingIOError:
        pass
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise


def _read_commands(fd, pending, pub):
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return pending
    *lines, pending = (pending + data).split(b"\n")
    for line in lines:
        try:
            pub.command(json.loads(line))
        except ValueError:
            pub.refused += 1
    return pending


def _finish(proc):
    try:
        proc.wait(timeout=3.0)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
