"""Performances as timed commands: MIDI files and the built-in demo.

A performance is a list of ``(sample_time, command)`` sorted by time, where
``command`` is a control-layer command tuple (``("note_on", 60, 100)``, ...).
Everything goes through :class:`rtsynth.control.CommandMapper`, exactly as live
MIDI does, so CC 21-28 move latents, CC 64 sustains, CC 120/123 silence and
pitch bend bends the same way offline and live.
"""

from pathlib import Path

from ..control import CommandMapper, parse_message
from ..errors import InputError

__all__ = ["read_midi", "messages_to_events", "demo_messages", "demo_performance",
           "DEMO_SECONDS"]

#: length of the built-in demo performance (the release tail comes on top)
DEMO_SECONDS = 8.0


def messages_to_events(messages, sample_rate, mapper=None):
    """Map timed raw MIDI messages to sorted ``(sample_time, command)`` pairs.

    Parameters
    ----------
    messages : iterable of (float, bytes-like)
        ``(time in seconds, raw channel message bytes)``; anything that is not
        a channel message (meta, sysex, clock) is skipped.
    sample_rate : int
        Samples per second of the rendering engine.
    mapper : rtsynth.control.CommandMapper, optional
        Default: a mapper with the packaged CANNe default map.

    Returns
    -------
    list of (int, tuple)
        Sorted by time; events at the same sample keep their file order.
    """
    mapper = mapper or CommandMapper()
    events = []
    cmds = []
    for seconds, data in messages:
        msg = parse_message(bytes(data))
        if msg is None:
            continue
        cmds.clear()
        if mapper.map(msg[0], msg[1], msg[2], cmds):
            t = int(round(seconds * sample_rate))
            events.extend((t, c) for c in cmds)
    events.sort(key=lambda e: e[0])  # stable: simultaneous events keep their order
    return events


def read_midi(path, sample_rate, mapper=None):
    """Read a Standard MIDI File into sorted ``(sample_time, command)`` pairs.

    Tempo changes are honoured (mido converts delta ticks to seconds with
    the tempo map), every track is merged, every channel is heard unless the
    mapper listens to one.

    Raises
    ------
    InputError
        One sentence when the file is missing, is not a MIDI file or holds no notes.
    """
    import mido

    path = Path(path)
    if not path.exists():
        raise InputError(f"midi={str(path)!r}: expected an existing MIDI file, found no such file.")
    if not path.is_file():
        raise InputError(f"midi={str(path)!r}: expected a MIDI file, found a folder or special file.")
    try:
        mid = mido.MidiFile(str(path))
        timed = []
        now = 0.0
        for msg in mid:  # merged tracks, msg.time = seconds since the previous message
            now += msg.time
            if not msg.is_meta and msg.type != "sysex":
                timed.append((now, msg.bytes()))
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError, ...
        detail = " ".join(str(e).split()) or type(e).__name__
        raise InputError(f"midi={str(path)!r}: expected a Standard MIDI File, found data "
                         f"mido cannot read ({detail}).") from None
    events = messages_to_events(timed, sample_rate, mapper)
    if not any(c[0] == "note_on" for _, c in events):
        raise InputError(f"midi={str(path)!r}: expected at least one note, found "
                         f"{len(events)} control events and no note-on.")
    return events


def demo_messages():
    """The built-in demo as ``(seconds, raw MIDI bytes)``: about 8 s on channel 1.

    Chords (C, A minor, F, G), a melody over them, a sweep of CC 21 and CC 22
    (latents 0 and 1) down and up, a pitch bend on the last melody note, and
    the sustain pedal held over the final chord.
    """
    msgs = []

    def note(t, dur, n, vel):
        msgs.append((t, bytes((0x90, n, vel))))
        msgs.append((t + dur, bytes((0x80, n, 0))))

    def cc(t, number, value):
        msgs.append((t, bytes((0xB0, number, int(value)))))

    # starting knobs: latent 0 up, latent 1 down
    cc(0.0, 21, 100)
    cc(0.0, 22, 20)
    chords = [(0.0, (48, 60, 64, 67)), (1.5, (45, 57, 60, 64)),
              (3.0, (41, 57, 60, 65)), (4.5, (43, 55, 59, 62))]
    for t, notes in chords:
        for n in notes:
            note(t, 1.4, n, 70)
    melody = [(0.0, 72), (0.5, 76), (1.0, 79), (1.5, 81), (2.0, 79), (2.5, 76),
              (3.0, 77), (3.5, 76), (4.0, 74), (4.5, 74), (5.0, 71), (5.5, 67)]
    for t, n in melody:
        note(t, 0.45, n, 100)
    # knob sweep over the middle chords: latent 0 down, latent 1 up, 20 steps a second
    for i in range(61):
        t = 1.5 + 3.0 * i / 60
        cc(t, 21, 100 - 80 * i / 60)
        cc(t, 22, 20 + 100 * i / 60)
    # pitch bend up a whole tone and back on a held melody note (full range = 2 semitones)
    note(6.0, 1.0, 72, 110)
    for i in range(21):
        t = 6.2 + 0.5 * i / 20
        bend = 8192 + int(8191 * (1 - abs(1 - 2 * i / 20)))
        msgs.append((t, bytes((0xE0, bend & 0x7F, bend >> 7))))
    # final C chord under the sustain pedal: keys up early, pedal keeps it ringing
    cc(6.0, 64, 127)
    for n in (48, 55, 60, 64):
        note(6.0, 0.5, n, 80)
    cc(DEMO_SECONDS - 0.3, 64, 0)
    msgs.sort(key=lambda m: m[0])
    return msgs


def demo_performance():
    """The built-in demo as ``(time_seconds, command)`` via the default CC map."""
    mapper = CommandMapper()
    out, cmds = [], []
    for t, data in demo_messages():
        msg = parse_message(data)
        cmds.clear()
        if msg is not None and mapper.map(msg[0], msg[1], msg[2], cmds):
            out.extend((t, c) for c in cmds)
    return out
