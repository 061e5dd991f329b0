"""What the performer view does, without drawing it: keys, snapshots, MIDI activity, load, learn.

:class:`ViewSession` lives in the view's process (:mod:`rtsynth.host.ui`
draws it with textual). It knows the session only through the snapshots the
audio process publishes (:class:`rtsynth.host.ui_bridge.Publisher`) and
talks back only through ``send(command)``: notes from the computer keyboard
and parameter moves, as the engine's command tuples.
"""

import collections
import math

from .keyboard import KeyboardPiano, note_name
from .ui_params import ParamBoard

__all__ = ["ViewSession", "MidiActivity", "LearnAdapter", "describe_midi", "FRAME_RATE",
           "HISTORY"]

#: the view's frames (and the audio process's snapshots) per second: meters with
#: their ballistics (a 20 dB/s peak fall, a 0.3 s mean square) read smoothly at 10,
#: and each frame costs the machine the audio runs on
FRAME_RATE = 10
#: snapshots of DSP-load history kept for the sparkline (1 s)
HISTORY = FRAME_RATE


class ViewSession:
    """The view's state: parameters, computer keyboard, meters, MIDI activity, load, learn.

    Parameters
    ----------
    specs : list of ParamSpec
        The parameters shown (:func:`rtsynth.host.ui_params.view_specs`).
    send : callable
        ``send(command) -> bool``: a command tuple for the engine.
    title : str
        The session's start line.
    period_ms : float
        The audio period (the DSP load's deadline).
    has_input : bool
        Show the input meter (an effect on live input).
    learn : object, optional
        MIDI learn: ``arm(name)``, ``cancel()``, ``feed(status, d1, d2) -> str or None``
        (a sentence once a mapping was learnt).
    """

    def __init__(self, specs, send, *, title="", period_ms=0.0, has_input=False, learn=None):
        self.send, self.title = send, title
        self.period_ms, self.has_input = float(period_ms), bool(has_input)
        self.board = ParamBoard(specs, send)
        self.piano = KeyboardPiano()
        self.learn = learn
        self.levels = [0.0, 0.0, 0.0, 0.0]  # out peak, out mean square, in peak, in mean square
        self.load_now = self.load_median = 0.0
        self.load_history = collections.deque([0.0] * HISTORY, maxlen=HISTORY)
        self.xruns = self.voices = self.midi_count = 0
        self.midi_activity = MidiActivity(8)
        self.messages = collections.deque(maxlen=3)
        self.armed = None  # the parameter MIDI learn waits for

    # ------------------------------------------------------------- input
    def key(self, key, now):
        """Handle one key (textual's key name) at ``now`` (s); True if it meant something."""
        key = key.lower() if len(key) == 1 else key
        commands = self.piano.press(key, now)
        if commands is not None:
            self._send_all(commands)
            return True
        board = self.board
        moves = {"up": (board.select, -1), "down": (board.select, 1),
                 "left": (board.nudge, -1), "right": (board.nudge, 1),
                 "pagedown": (board.nudge, -10), "pageup": (board.nudge, 10)}
        if key in moves:
            fn, arg = moves[key]
            fn(arg)
        elif key in ("shift+left", "shift+right"):
            board.nudge(-1 if key == "shift+left" else 1, fine=True)
        elif key == "space":  # panic: what the keyboard holds, then every note
            self._send_all(self.piano.release_all() + [("all_notes_off",)])
        elif key == "ctrl+l":
            self.arm_learn()
        elif key == "escape" and self.armed is not None:
            self.armed = None
            self.learn.cancel()
            self.say("MIDI learn cancelled")
        else:
            return False
        return True

    def arm_learn(self):
        """Arm MIDI learn for the selected parameter: the next control moved is mapped to it."""
        name = self.board.current.name
        if self.learn is None:
            self.say("MIDI learn is not available in this session")
            return
        self.armed = name
        self.learn.arm(name)
        self.say(f"MIDI learn: move a control for {name} (Esc cancels)")

    # ------------------------------------------------------------- frames
    def apply(self, snap):
        """Take one snapshot from the audio process (a :class:`~rtsynth.host.ui_link.LinkReader` snapshot)."""
        self.levels = snap["levels"]
        if snap["load_now"] is not None:
            self.load_now = snap["load_now"]
            self.load_history.append(snap["load_max"])
        else:
            self.load_history.append(0.0)
        self.load_median, self.xruns, self.voices = (snap["load_median"], snap["xruns"],
                                                     snap["voices"])
        self.board.update(snap["values"])
        for status, d1, d2 in snap["midi"]:
            self._on_midi(status, d1, d2)
        for line in snap["say"]:
            self.say(line)

    def tick(self, now):
        """Release the notes whose keys stopped repeating."""
        self._send_all(self.piano.expire(now))

    def dsp(self):
        """(load of the last block %, max over the history %, median %, xruns)."""
        return self.load_now, max(self.load_history), self.load_median, self.xruns

    def db(self, index):
        """``levels[index]`` in dBFS (peaks as amplitude, mean squares as RMS); -inf if silent."""
        v = float(self.levels[index])
        if v <= 0.0:
            return -math.inf
        return (10.0 if index % 2 else 20.0) * math.log10(v)

    def say(self, line):
        """Show a line in the view's message area."""
        self.messages.append(line)

    def close(self):
        """Release the computer keyboard's notes (the view is going away)."""
        self._send_all(self.piano.release_all())

    # ------------------------------------------------------------ helpers
    def _send_all(self, commands):
        for c in commands:
            self.send(c)

    def _on_midi(self, status, d1, d2):
        self.midi_count += 1
        self.midi_activity.add(status, d1, d2)
        if self.armed is not None and self.learn is not None:
            done = self.learn.feed(status, d1, d2)
            if done:
                self.armed = None
                self.say(done)


class MidiActivity:
    """The last message of each MIDI source, in fixed lines: a controller's line updates in
    place as the knob turns, so the lines do not scroll (a scrolling log re-renders every
    line at every message, and a turned knob floods it with one controller).

    A source is a channel's notes, its bend, its program, its pressure, or one of its
    controllers. A new source takes a free line, else the line least recently used.

    Parameters
    ----------
    maxlen : int
        Lines shown.
    """

    def __init__(self, maxlen):
        self.maxlen = maxlen
        self.lines = [""] * maxlen
        self.latest = None  # the line of the last message
        self._keys = [None] * maxlen
        self._used = [0] * maxlen
        self._count = 0

    def add(self, status, d1, d2):
        """Show one channel message (status byte, two data bytes)."""
        kind = status >> 4
        key = (status & 0x0F, 0x9 if kind == 0x8 else kind, d1 if kind == 0xB else None)
        self._count += 1
        if key in self._keys:
            i = self._keys.index(key)
        else:
            i = min(range(self.maxlen), key=self._used.__getitem__)  # free lines have 0
            self._keys[i] = key
        self.lines[i] = describe_midi(status, d1, d2)
        self._used[i] = self._count
        self.latest = i

    def __iter__(self):
        """The lines in use, top to bottom."""
        return (line for line in self.lines if line)


class LearnAdapter:
    """:class:`rtsynth.control.learn.MidiLearn` as the view uses it: a captured control is
    saved to ``path`` at once and ``on_saved(path)`` is called (the view then asks the
    audio process to play by the new mapping).
    """

    def __init__(self, learner, path, on_saved=None):
        self.learner, self.path, self.on_saved = learner, path, on_saved

    def arm(self, name):
        self.learner.arm(name)

    def cancel(self):
        self.learner.disarm()

    def feed(self, status, d1, d2):
        """Offer one message; a sentence once a control was learnt and saved, else None."""
        try:
            entry = self.learner.feed(status, d1, d2)
            if entry is None:
                return None
            self.learner.save(self.path)
        except Exception as e:  # an InputError or a failed write: say it, keep playing
            self.learner.disarm()
            return f"MIDI learn failed: {' '.join(str(e).split())}"
        if self.on_saved is not None:
            self.on_saved(self.path)
        source = entry.source
        if source in ("cc", "note"):
            source = f"{source} {entry.number}"
        return f"learnt {source} -> {entry.param}; saved {self.path}"


def describe_midi(status, d1, d2):
    """A raw channel message in a few words (``ch1 note on  C4 100``)."""
    kind, ch = status >> 4, (status & 0x0F) + 1
    if kind == 0x9 and d2:
        return f"ch{ch} note on  {note_name(d1)} {d2}"
    if kind in (0x8, 0x9):
        return f"ch{ch} note off {note_name(d1)}"
    if kind == 0xB:
        return f"ch{ch} CC {d1} = {d2}"
    if kind == 0xE:
        return f"ch{ch} bend {((d2 << 7) | d1) - 8192:+d}"
    if kind == 0xC:
        return f"ch{ch} program {d1}"
    if kind in (0xA, 0xD):
        return f"ch{ch} pressure {d2 if kind == 0xA else d1}"
    return f"status 0x{status:02X}"
