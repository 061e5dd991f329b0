"""The computer keyboard as a two-octave piano (``rtsynth play --ui``), as in common DAWs.

Layout (US key positions; the lower octave on the bottom letter row, the
upper on the top row, black keys on the row above each)::

     2 3   5 6 7   9 0          s d   g h j
    q w e r t y u i o p        z x c v b n m , . /
    C D E F G A B C D E        C D E F G A B C D E   (upper / lower octave)

``-`` / ``=`` shift both octaves down / up, ``[`` / ``]`` lower / raise the
velocity.

Terminals report key presses (and auto-repeats) but not releases, so a note
is held while its key repeats and released :attr:`KeyboardPiano.hold` seconds
after its last press or repeat; the first hold is longer, to bridge the
terminal's delay before it starts repeating. A tap therefore sounds for about
half a second; holding a key holds the note. Pressing a sounding key's note
again only refreshes it (a repeat is not a new note-on).
"""

from ..errors import InputError

__all__ = ["KeyboardPiano", "note_name", "NOTE_KEYS", "OCTAVE_KEYS", "VELOCITY_KEYS"]

#: key -> semitones above the lower octave's C
NOTE_KEYS = {
    "z": 0, "s": 1, "x": 2, "d": 3, "c": 4, "v": 5, "g": 6, "b": 7, "h": 8, "n": 9, "j": 10,
    "m": 11, "comma": 12, "l": 13, "full_stop": 14, "semicolon": 15, "slash": 16,
    "q": 12, "2": 13, "w": 14, "3": 15, "e": 16, "r": 17, "5": 18, "t": 19, "6": 20, "y": 21,
    "7": 22, "u": 23, "i": 24, "9": 25, "o": 26, "0": 27, "p": 28,
}
#: key -> octave step
OCTAVE_KEYS = {"minus": -1, "equals_sign": +1}
#: key -> velocity step
VELOCITY_KEYS = {"left_square_bracket": -16, "right_square_bracket": +16}


class KeyboardPiano:
    """Key presses -> note commands, with releases by timeout (see the module docstring).

    Parameters
    ----------
    base : int
        MIDI note of the lower octave's C (default 48, C3; the upper row starts at C4).
    velocity : int
        1..127.
    hold, first_hold : float
        Seconds a note outlives its last repeat, and its first press.

    The methods return lists of command tuples (``("note_on", n, v)``,
    ``("note_off", n)``) for the caller to send; nothing here talks to the engine.
    """

    def __init__(self, base=48, velocity=100, hold=0.15, first_hold=0.6):
        if not 0 <= base <= 127 - 28:
            raise InputError(f"base={base!r}: expected a MIDI note 0..{127 - 28} (two octaves "
                             f"and a third must fit)")
        self.base, self.velocity = int(base), int(velocity)
        self.hold, self.first_hold = float(hold), float(first_hold)
        self._until = {}  # sounding note -> release time

    @property
    def sounding(self):
        """The notes held now, lowest first."""
        return sorted(self._until)

    def press(self, key, now):
        """Handle one key press (or auto-repeat) at time ``now`` (s); return the commands.

        Returns None for a key that is not the piano's, so the caller can
        offer it to other bindings.
        """
        if key in NOTE_KEYS:
            note = self.base + NOTE_KEYS[key]
            if note in self._until:
                self._until[note] = now + self.hold  # a repeat: still held
                return []
            self._until[note] = now + self.first_hold
            return [("note_on", note, self.velocity)]
        if key in OCTAVE_KEYS:
            base = self.base + 12 * OCTAVE_KEYS[key]
            if 0 <= base <= 127 - 28:
                self.base = base
            return self.release_all()  # the old octave's notes would hang otherwise
        if key in VELOCITY_KEYS:
            self.velocity = max(1, min(127, self.velocity + VELOCITY_KEYS[key]))
            return []
        return None

    def expire(self, now):
        """Release the notes whose key stopped repeating; return the note-offs."""
        done = [n for n, t in self._until.items() if t <= now]
        for n in done:
            del self._until[n]
        return [("note_off", n) for n in done]

    def release_all(self):
        """Release every sounding note; return the note-offs."""
        done = [("note_off", n) for n in sorted(self._until)]
        self._until.clear()
        return done

    def describe(self):
        """One line for the view: octave range, velocity and the sounding notes."""
        names = " ".join(note_name(n) for n in self.sounding) or "-"
        return (f"keys {note_name(self.base)}..{note_name(self.base + 28)}  vel {self.velocity}  "
                f"[-/= octave, [/] velocity]  playing: {names}")


def note_name(note):
    """MIDI note number -> name with octave (60 -> C4)."""
    return "C C# D D# E F F# G G# A A# B".split()[note % 12] + str(note // 12 - 1)
