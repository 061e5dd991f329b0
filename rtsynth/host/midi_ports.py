"""MIDI input ports through rtmidi (ALSA sequencer, CoreMIDI, ...), for the PortAudio backend.

rtmidi calls back on its own thread; the callback parses the message and
pushes it into a lock-free :class:`rtsynth.control.EventQueue` that the audio
callback drains.
"""

import contextlib
import os

from ..control import parse_message
from ..errors import DeviceError

__all__ = ["midi_input_ports", "open_midi_inputs", "midi_callback"]


def midi_input_ports(api=None):
    """Names of rtmidi input ports ([] when the MIDI system is unavailable).

    ``api``: an rtmidi API constant (e.g. ``rtmidi.API_UNIX_JACK``); None = rtmidi's default.
    """
    try:
        m = _midi_in(api=api)
        try:
            return list(m.get_ports())
        finally:
            m.close_port()
            del m
    except Exception:  # no ALSA sequencer, no rtmidi: no ports
        return []


def open_midi_inputs(queue, name=None, virtual=False, client_name="rtsynth", api=None):
    """Open rtmidi inputs that push into ``queue``; return (list of MidiIn, list of names).

    ``name``: substring of one port name (unknown -> DeviceError listing the
    ports); None: every available input port; ``virtual``: also open a
    virtual input port other programs can connect to; ``api``: as for
    :func:`midi_input_ports`.
    """
    try:
        import rtmidi
    except ImportError as e:
        raise DeviceError(f"midi_in: expected python-rtmidi, found it missing ({e}).") from None

    callback = midi_callback(queue)
    ports = midi_input_ports(api)
    opened, names = [], []
    try:
        if name is not None:
            wanted = [i for i, p in enumerate(ports) if name.lower() in p.lower()]
            if not wanted:
                raise DeviceError(f"midi_in={name!r}: expected a MIDI input port containing that "
                                  f"name, found only: {', '.join(ports) or 'none'}.")
        else:
            wanted = [i for i, p in enumerate(ports) if "midi through" not in p.lower()]
        for i in wanted:
            m = _midi_in(api=api, name=client_name)
            m.open_port(i, name="midi_in")
            m.set_callback(callback)
            opened.append(m)
            names.append(ports[i])
        if virtual:
            try:
                m = _midi_in(api=api, name=client_name)
                m.open_virtual_port("midi_in")
            except Exception as e:
                raise DeviceError(f"virtual_midi=True: expected a MIDI system that supports "
                                  f"virtual ports (ALSA sequencer, CoreMIDI), found it "
                                  f"unavailable ({' '.join(str(e).split())}).") from None
            m.set_callback(callback)
            opened.append(m)
            names.append(f"{client_name}:midi_in (virtual)")
    except BaseException:
        for m in opened:
            m.close_port()
        raise
    return opened, names


def midi_callback(queue):
    """The rtmidi callback (rtmidi's thread) that parses a message and pushes it into ``queue``."""

    def callback(event, data=None):
        msg = parse_message(event[0])
        if msg is not None:
            queue.push(0, msg[0], msg[1], msg[2])

    return callback


@contextlib.contextmanager
def _quiet_stderr():
    """Hide what C libraries print on fd 2 (ALSA: 'cannot open /dev/snd/seq') meanwhile."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _midi_in(api=None, **kw):
    import rtmidi

    with _quiet_stderr():
        return rtmidi.MidiIn(rtmidi.API_UNSPECIFIED if api is None else api, **kw)
