"""PortAudio backend (sounddevice), output-only or duplex, with MIDI from rtmidi ports.

rtmidi delivers MIDI on its own thread (:mod:`rtsynth.host.midi_ports`) and
pushes it into a lock-free :class:`rtsynth.control.EventQueue` (offset 0).
The audio callback drains the queue at the start of each block, maps the
messages to commands in preallocated slots and applies them at offset 0 via
:func:`rtsynth.engine.schedule.render_with_events`, then copies the mono
signal to every output channel.
"""

import threading
import time

import numpy as np

from ..control import CommandMapper, EventQueue
from ..engine.schedule import render_with_events
from ..errors import DeviceError
from .runtime import DspMeter, EventSlots, default_automation

__all__ = ["PortAudioHost", "output_devices", "input_devices", "resolve_output_device",
           "resolve_input_device", "pick_rate", "COMMON_RATES"]

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
    return _devices("output")


def input_devices():
    """``[(index, name, host API name, max input channels, default rate)]`` of input devices."""
    return _devices("input")


def resolve_output_device(device=None):
    """The output device index for ``device`` (None = default, an index, or a name substring)."""
    return _resolve(device, "output")


def resolve_input_device(device=None):
    """The input device index for ``device`` (None = default, an index, or a name substring)."""
    return _resolve(device, "input")


def pick_rate(device, preferred=None):
    """``preferred`` (the model's rate) when ``device`` accepts it, else its default rate."""
    sd = _sd()
    if preferred:
        try:
            sd.check_output_settings(device=device, samplerate=preferred, dtype="float32")
            return int(preferred)
        except Exception:
            pass
    return int(sd.query_devices(device)["default_samplerate"])


class PortAudioHost:
    """Run ``engine`` on a sounddevice stream with MIDI from an EventQueue.

    Output-only (an OutputStream) for a synth; a duplex Stream (mono input
    from ``input_device``) for an engine with ``needs_input``, which gets
    each input period through ``engine.feed`` before rendering it.

    Parameters
    ----------
    engine : object
        ``process``/``apply`` (and ``feed``), e.g. a CanneSynth or a Chain.
    device : int
        Output device index (see :func:`resolve_output_device`).
    rate, block : int
    queue : rtsynth.control.EventQueue
        Filled by the MIDI thread(s).
    input_device : int, optional
        Input device index for a duplex engine (see :func:`resolve_input_device`).
    link : rtsynth.host.ui_link.UiLink, optional
        A live view's link (see :class:`rtsynth.host.jack_backend.JackHost`).
    automation : rtsynth.control.Automation, optional
        Glides, presets and OSC inboxes (default: one for the mapper's parameters).

    Attributes
    ----------
    device_latency : float
        PortAudio's estimate of its input + output buffering in seconds
        (outside rtsynth's exact delay).
    """

    def __init__(self, engine, device, rate, block, *, queue=None, mapper=None, max_events=512,
                 input_device=None, link=None, automation=None):
        sd = _sd()
        self.engine = engine
        self.link = link
        self.device, self.rate, self.block = device, int(rate), int(block)
        self.queue = queue if queue is not None else EventQueue()
        self.mapper = mapper or CommandMapper()
        self.events = EventSlots(max_events)
        self.automation = automation or default_automation(self.mapper, self.rate, engine)
        self._engine_events = EventSlots(max_events)  # the automation's output
        self.meter = DspMeter()
        self.buf = np.zeros(max(self.block, 8192), dtype=np.float32)
        self.error = None
        self.finished = threading.Event()
        info = sd.query_devices(device)
        self.channels = min(2, int(info["max_output_channels"]))
        self.duplex = bool(getattr(engine, "needs_input", False))
        self._handler = self._on_midi  # bound once, not per block
        try:
            sd.check_output_settings(device=device, samplerate=self.rate,
                                     channels=self.channels, dtype="float32")
            if self.duplex:
                sd.check_input_settings(device=input_device, samplerate=self.rate, channels=1,
                                        dtype="float32")
        except Exception:
            raise DeviceError(f"sample_rate={self.rate}: expected a rate device {device} "
                              f"({info['name']}) accepts{' for input and output' * self.duplex}, "
                              f"found it refused; it supports "
                              f"{', '.join(map(str, self.supported_rates())) or 'none of the common rates'} Hz."
                              ) from None
        try:
            if self.duplex:
                self.stream = sd.Stream(device=(input_device, device), samplerate=self.rate,
                                        blocksize=self.block, channels=(1, self.channels),
                                        dtype="float32", latency="low",
                                        callback=self._duplex_callback,
                                        finished_callback=self.finished.set)
            else:
                self.stream = sd.OutputStream(device=device, samplerate=self.rate,
                                              blocksize=self.block, channels=self.channels,
                                              dtype="float32", latency="low",
                                              callback=self._callback,
                                              finished_callback=self.finished.set)
        except Exception as e:
            raise DeviceError(f"block={self.block} at {self.rate} Hz: expected settings device "
                              f"{device} ({info['name']}) accepts, found them refused "
                              f"({' '.join(str(e).split())}); it supports "
                              f"{', '.join(map(str, self.supported_rates()))} Hz and its "
                              f"default block sizes (try --block 256 or 512).") from None
        lat = self.stream.latency
        self.device_latency = float(sum(lat) if isinstance(lat, tuple) else lat)

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
        if self.link is not None:
            self.link.monitor.push(offset, status, d1, d2)

    def _callback(self, outdata, frames, time_info, status):
        t0 = time.perf_counter_ns()
        if status.output_underflow:
            self.meter.xrun(t0)
        self._render(outdata, frames)
        self._record(t0, frames)

    def _duplex_callback(self, indata, outdata, frames, time_info, status):
        t0 = time.perf_counter_ns()
        if status.output_underflow or status.input_overflow:
            self.meter.xrun(t0)
        inp = indata[:, 0]
        try:
            self.engine.feed(inp)
        except Exception as e:
            if self.error is None:
                self.error = e
        self._render(outdata, frames, inp)
        self._record(t0, frames)

    def _record(self, t0, frames):
        self.meter.record(time.perf_counter_ns() - t0, frames, t0)
        if self.link is not None:  # the block's time, xruns and voices, for the view
            self.link.post(self.meter, self.engine)

    def _render(self, outdata, frames, inp=None):
        try:
            self.events.clear()
            self.queue.drain(self._handler)
            link = self.link
            if link is not None and len(link.commands):
                self.events.offset = 0
                link.commands.drain(self.events)  # the view's commands, as if mapped from MIDI
            buf = self.buf[:frames]
            events = self.events
            if self.automation is not None:  # glides, presets, OSC: "set" -> engine commands
                events = self.automation.run(events, frames, self._engine_events)
            render_with_events(self.engine, buf, events, 0, frames)
            for c in range(outdata.shape[1]):
                outdata[:, c] = buf
            if link is not None:
                link.measure(buf, inp)
        except Exception as e:
            if self.error is None:
                self.error = e
            outdata.fill(0.0)

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


def _devices(kind):
    sd = _sd()
    apis = sd.query_hostapis()
    key = f"max_{kind}_channels"
    return [(d["index"], d["name"], apis[d["hostapi"]]["name"], d[key], d["default_samplerate"])
            for d in sd.query_devices() if d[key] > 0]


def _describe(devs):
    return "; ".join(f"{i}: {n} ({api})" for i, n, api, _, _ in devs) or "none"


def _resolve(device, kind):
    # kind: 'output' or 'input'; option names as the command line spells them
    sd = _sd()
    devs = _devices(kind)
    option = "device" if kind == "output" else "input_device"
    if device is None or device == "":
        default = sd.default.device[1 if kind == "output" else 0]
        if default is not None and default >= 0 and any(d[0] == default for d in devs):
            return default
        if devs:
            return devs[0][0]
        raise DeviceError(f"{option}=default: expected an audio {kind} device, found none "
                          f"(available {kind} devices: none).")
    text = str(device).strip()
    if text.isdigit():
        index = int(text)
        if any(d[0] == index for d in devs):
            return index
        raise DeviceError(f"{option}={device!r}: expected the index of an {kind} device, found "
                          f"no such {kind} device; available {kind} devices: {_describe(devs)}.")
    found = [d for d in devs if text.lower() in d[1].lower()]
    if len(found) == 1 or (found and found[0][1].lower() == text.lower()):
        return found[0][0]
    if not found:
        raise DeviceError(f"{option}={device!r}: expected a name matching an {kind} device, "
                          f"found none; available {kind} devices: {_describe(devs)}.")
    raise DeviceError(f"{option}={device!r}: expected one matching {kind} device, found "
                      f"{len(found)}: {_describe(found)}; give the index instead.")
