"""PortAudio backend (sounddevice) with MIDI from rtmidi ports.

rtmidi delivers MIDI on its own thread; the callback there parses the message
and pushes it into a lock-free :class:`rtsynth.control.EventQueue` (offset 0).
The audio callback drains the queue at the start of each block, maps the
messages to commands in preallocated slots and applies them at offset 0 via
:func:`rtsynth.engine.schedule.render_with_events`, then copies the mono
signal to every output channel.
"""

import contextlib
import os
import threading
import time

import numpy as np

from ..control import CommandMapper, EventQueue, parse_message
from ..engine.schedule import render_with_events
from ..errors import DeviceError
from .runtime import DspMeter, EventSlots

__all__ = ["PortAudioHost", "output_devices", "resolve_output_device", "midi_input_ports",
           "open_midi_inputs", "COMMON_RATES"]

COMMON_RATES = (22050, 32000, 44100, 48000, 88200, 96000)


def _sd():
    try:
        import sounddevice as sd
    except OSError as e:  # libportaudio missing
        raise DeviceError(f"backend=portaudio: expected the PortAudio library (Debian package "
                          f"libportaudio2), found it missing ({e}).") from None
    return sd


def output_devices():
    """``[(index, name, host API name, max output channels, default rate)]`` of output devices."""
    sd = _sd()
    apis = sd.query_hostapis()
    out = []
    for d in sd.query_devices():
        if d["max_output_channels"] > 0:
            out.append((d["index"], d["name"], apis[d["hostapi"]]["name"],
                        d["max_output_channels"], d["default_samplerate"]))
    return out


def _describe(devs):
    return "; ".join(f"{i}: {n} ({api})" for i, n, api, _, _ in devs) or "none"


def resolve_output_device(device=None):
    """The output device index for ``device`` (None = default, an index, or a name substring)."""
    sd = _sd()
    devs = output_devices()
    if device is None or device == "":
        default = sd.default.device[1]
        if default is not None and default >= 0 and any(d[0] == default for d in devs):
            return default
        if devs:
            return devs[0][0]
        raise DeviceError("device=default: expected an audio output device, found none "
                          "(available output devices: none).")
    text = str(device).strip()
    if text.isdigit():
        index = int(text)
        if any(d[0] == index for d in devs):
            return index
        raise DeviceError(f"device={device!r}: expected the index of an output device, found no "
                          f"such output device; available output devices: {_describe(devs)}.")
    found = [d for d in devs if text.lower() in d[1].lower()]
    if len(found) == 1 or (found and found[0][1].lower() == text.lower()):
        return found[0][0]
    if not found:
        raise DeviceError(f"device={device!r}: expected a name matching an output device, found "
                          f"none; available output devices: {_describe(devs)}.")
    raise DeviceError(f"device={device!r}: expected one matching output device, found "
                      f"{len(found)}: {_describe(found)}; give the index instead.")


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


def _midi_in(**kw):
    import rtmidi

    with _quiet_stderr():
        return rtmidi.MidiIn(**kw)


def midi_input_ports():
    """Names of rtmidi input ports ([] when the MIDI system is unavailable)."""
    try:
        m = _midi_in()
        try:
            return list(m.get_ports())
        finally:
            m.close_port()
            del m
    except Exception:  # no ALSA sequencer, no rtmidi: no ports
        return []


def open_midi_inputs(queue, name=None, virtual=False, client_name="rtsynth"):
    """Open rtmidi inputs that push into ``queue``; return (list of MidiIn, list of names).

    ``name``: substring of one port name (unknown -> DeviceError listing the
    ports); None: every available input port; ``virtual``: also open a
    virtual input port other programs can connect to.
    """
    try:
        import rtmidi
    except ImportError as e:
        raise DeviceError(f"midi_in: expected python-rtmidi, found it missing ({e}).") from None

    def callback(event, data=None):
        msg = parse_message(event[0])
        if msg is not None:
            queue.push(0, msg[0], msg[1], msg[2])

    ports = midi_input_ports()
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
            m = _midi_in(name=client_name)
            m.open_port(i, name="midi_in")
            m.set_callback(callback)
            opened.append(m)
            names.append(ports[i])
        if virtual:
            try:
                m = _midi_in(name=client_name)
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


class PortAudioHost:
    """Run ``engine`` on a sounddevice OutputStream with MIDI from an EventQueue.

    Parameters
    ----------
    engine : rtsynth.engine.canne.CanneSynth
    device : int
        Output device index (see :func:`resolve_output_device`).
    rate, block : int
    queue : rtsynth.control.EventQueue
        Filled by the MIDI thread(s).
    """

    def __init__(self, engine, device, rate, block, *, queue=None, mapper=None, max_events=512):
        sd = _sd()
        self.engine = engine
        self.device, self.rate, self.block = device, int(rate), int(block)
        self.queue = queue if queue is not None else EventQueue()
        self.mapper = mapper or CommandMapper()
        self.events = EventSlots(max_events)
        self.meter = DspMeter()
        self.buf = np.zeros(max(self.block, 8192), dtype=np.float32)
        self.error = None
        self.finished = threading.Event()
        info = sd.query_devices(device)
        self.channels = min(2, int(info["max_output_channels"]))
        self._handler = self._on_midi  # bound once, not per block
        try:
            sd.check_output_settings(device=device, samplerate=self.rate,
                                     channels=self.channels, dtype="float32")
        except Exception:
            raise DeviceError(f"sample_rate={self.rate}: expected a rate device {device} "
                              f"({info['name']}) accepts, found it refused; it supports "
                              f"{', '.join(map(str, self.supported_rates())) or 'none of the common rates'} Hz."
                              ) from None
        try:
            self.stream = sd.OutputStream(device=device, samplerate=self.rate, blocksize=self.block,
                                          channels=self.channels, dtype="float32",
                                          latency="low", callback=self._callback,
                                          finished_callback=self.finished.set)
        except Exception as e:
            raise DeviceError(f"block={self.block} at {self.rate} Hz: expected settings device "
                              f"{device} ({info['name']}) accepts, found them refused "
                              f"({' '.join(str(e).split())}); it supports "
                              f"{', '.join(map(str, self.supported_rates()))} Hz and its "
                              f"default block sizes (try --block 256 or 512).") from None

    def supported_rates(self):
        sd = _sd()
        ok = []
        for r in COMMON_RATES:
            try:
                sd.check_output_settings(device=self.device, samplerate=r,
                                         channels=self.channels, dtype="float32")
                ok.append(r)
            except Exception:
                pass
        return ok

    def _on_midi(self, offset, status, d1, d2):
        events = self.events
        events.offset = 0
        self.mapper.map(status, d1, d2, events)

    def _callback(self, outdata, frames, time_info, status):
        t0 = time.perf_counter_ns()
        if status.output_underflow:
            self.meter.xruns += 1
        try:
            self.events.clear()
            self.queue.drain(self._handler)
            buf = self.buf[:frames]
            render_with_events(self.engine, buf, self.events, 0, frames)
            for c in range(outdata.shape[1]):
                outdata[:, c] = buf
        except Exception as e:
            if self.error is None:
                self.error = e
            outdata.fill(0.0)
        self.meter.record(time.perf_counter_ns() - t0, frames)

    def start(self):
        self.stream.start()

    def wait(self):
        while not self.finished.wait(0.1):
            if self.error is not None:
                raise DeviceError(f"backend=portaudio: the audio callback failed "
                                  f"({type(self.error).__name__}: {self.error}).")
        raise DeviceError("backend=portaudio: expected the audio stream to keep running, "
                          "found it stopped by the device.")

    def stop(self):
        try:
            self.stream.stop()
        finally:
            self.stream.close()
