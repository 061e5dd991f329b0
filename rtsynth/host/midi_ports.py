"""MIDI input ports through rtmidi (ALSA sequencer, CoreMIDI, ...), for the PortAudio backend.

Ports are looked for with rtmidi's default API first and then, where rtmidi
has it, its JACK MIDI API: a machine whose MIDI lives in JACK (no ALSA
sequencer, or a JACK-only setup) still finds its keyboards by name.

rtmidi calls back on its own thread; the callback parses the message and
pushes it into a lock-free :class:`rtsynth.control.EventQueue` that the audio
callback drains.
"""

import contextlib
import os
import time

from ..control import parse_message
from ..errors import DeviceError

__all__ = ["midi_input_ports", "all_midi_input_ports", "open_midi_inputs", "close_midi_inputs",
           "midi_callback", "port_lister"]


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


def port_lister(api=None, name="rtsynth-watch"):
    """A MidiIn kept for listing ports again and again (``get_ports()``), already connected
    to the MIDI system: make it before a stream starts (see :class:`RtMidiWatch`)."""
    m = _midi_in(api=api, name=name)
    m.get_ports()
    return m


def all_midi_input_ports():
    """Names of the input ports of every rtmidi API looked in (default, then JACK), no repeats."""
    seen = []
    for a in _apis(None):
        seen += [p for p in midi_input_ports(a) if p not in seen]
    return seen


def open_midi_inputs(queue, name=None, virtual=False, client_name="rtsynth", api=None):
    """Open rtmidi inputs that push into ``queue``; return (list of MidiIn, list of names).

    ``name``: substring of one port name (unknown -> DeviceError listing the
    ports); None: every available input port; ``virtual``: also open a
    virtual input port other programs can connect to; ``api``: as for
    :func:`midi_input_ports` (None: the default API's ports, else JACK's when
    the default has none that match).
    """
    try:
        import rtmidi
    except ImportError as e:
        raise DeviceError(f"midi_in: expected python-rtmidi, found it missing ({e}).") from None

    callback = midi_callback(queue)
    listed, candidates = [], _apis(api)
    for api in candidates:
        ports = midi_input_ports(api)
        listed += [p for p in ports if p not in listed]
        if name is not None:
            wanted = [i for i, p in enumerate(ports) if name.lower() in p.lower()]
        else:
            wanted = [i for i, p in enumerate(ports) if "midi through" not in p.lower()]
        if wanted:
            break
    else:
        api, ports = candidates[0], []  # nothing to open: a virtual port goes to the default
    opened, names = [], []
    try:
        if name is not None and not wanted:
            raise DeviceError(f"midi_in={name!r}: expected a MIDI input port containing that "
                              f"name, found only: {', '.join(listed) or 'none'}.")
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
        close_midi_inputs(opened)
        raise
    return opened, names


def close_midi_inputs(opened, grace=0.01):
    """Close rtmidi inputs, their Python callbacks stopped first.

    With rtmidi's JACK API each input is a JACK client whose process thread
    calls the Python callback, and JACK2 ends that thread with
    ``pthread_cancel`` when the client goes: caught inside the interpreter it
    hangs for good (as the host's own client did, see
    :mod:`rtsynth.host.jack_backend`). Cancelling the callbacks, then sleeping
    ``grace`` s (which releases the GIL, so a callback in flight returns),
    leaves nothing in Python to cancel.
    """
    for m in opened:
        with contextlib.suppress(Exception):
            m.cancel_callback()
    if opened:
        time.sleep(grace)
    for m in opened:
        m.close_port()


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


def _apis(api):
    """The rtmidi APIs to look in: ``api``, else the default and then JACK's (if built in)."""
    if api is not None:
        return [api]
    try:
        import rtmidi
    except ImportError:
        return [None]
    jack = getattr(rtmidi, "API_UNIX_JACK", None)
    return [None] + ([jack] if jack in rtmidi.get_compiled_api() else [])


def _midi_in(api=None, **kw):
    import rtmidi

    with _quiet_stderr():
        return rtmidi.MidiIn(rtmidi.API_UNSPECIFIED if api is None else api, **kw)
