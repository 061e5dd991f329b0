"""Playing CANNe live (JACK or PortAudio), listing devices, and the ``make run`` demo."""

import gc
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..control import EventQueue
from ..errors import DeviceError, InputError, ModelError

__all__ = ["resolve_bundle", "play", "list_devices", "run_demo", "choose_backend",
           "has_audio_output", "DemoResult", "BACKENDS"]

BACKENDS = ("jack", "portaudio")
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding rtsynth/ (the repo)


def resolve_bundle(instrument="canne", model=None):
    """The bundle folder: ``model`` if given, else ``models/<instrument>`` in the working
    folder or beside the rtsynth package (the repository root).

    Raises
    ------
    ModelError
        No such folder (one sentence saying where it looked).
    """
    if model is not None:
        return Path(model)
    rel = Path("models") / instrument
    candidates = [Path.cwd() / rel, _PACKAGE_ROOT / rel]
    for c in candidates:
        if c.is_dir():
            return c
    looked = " and ".join(dict.fromkeys(str(c) for c in candidates))
    raise ModelError(f"models/{instrument} is missing: expected a trained {instrument} bundle "
                     f"folder at {looked}, found none (export one with `python -m "
                     f"export.convert ... --out models/{instrument}`, or pass --model FOLDER).")


def choose_backend(backend=None):
    """``backend`` as given, else 'jack' when a JACK server runs, else 'portaudio'."""
    if backend is not None:
        if backend not in BACKENDS:
            raise InputError(f"backend={backend!r}: expected one of {', '.join(BACKENDS)}.")
        return backend
    from .jack_backend import jack_server_running

    return "jack" if jack_server_running() else "portaudio"


def has_audio_output():
    """True when a JACK server runs or PortAudio sees an output device."""
    from .jack_backend import jack_server_running

    if jack_server_running():
        return True
    try:
        from .portaudio_backend import output_devices

        return bool(output_devices())
    except DeviceError:
        return False


def _player(queue, messages, stop):
    """Push ``(seconds, raw MIDI)`` messages into ``queue`` on time (a performance thread)."""
    from ..control import parse_message

    t0 = time.monotonic()
    for t, data in messages:
        delay = t0 + t - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        msg = parse_message(data)
        if msg is not None:
            queue.push(0, *msg)


def play(instrument="canne", *, model=None, backend=None, jack_name="rtsynth", connect=False,
         device=None, midi_in=None, virtual_midi=False, sample_rate=None, block=None, hop=None,
         voices=8, mode="pitch", latents=None, performance=None, out=None, duration=None):
    """Play the instrument live until Ctrl-C; return the exit status.

    Parameters mirror ``rtsynth play``. ``performance``: ``(seconds, raw MIDI)``
    messages played from a thread once the stream runs (the demo).
    ``duration``: stop after this many seconds (tests, demos).
    Prints the start-up line and, at exit, the DSP load and xrun count to ``out``.
    """
    from ..model import load_bundle
    from .render import build_synth
    from .runtime import latency_line, realtime_python, warm_up

    out = out or sys.stdout
    folder = resolve_bundle(instrument, model)
    bundle = load_bundle(folder)
    backend = choose_backend(backend)
    engine_opts = dict(hop=hop, polyphony=voices, mode=mode, latents=latents)
    queue = EventQueue(4096)
    midi_ports = []
    if backend == "jack":
        from .jack_backend import JackHost, open_client

        client = open_client(jack_name)
        try:
            rate, period = client.samplerate, client.blocksize
            if sample_rate is not None and int(sample_rate) != rate:
                raise DeviceError(f"sample_rate={sample_rate}: expected the JACK server's rate, "
                                  f"found the server runs at {rate} Hz (JACK sets it; the "
                                  f"engine corrects pitch at any rate).")
            if block is not None and int(block) != period:
                raise DeviceError(f"block={block}: expected the JACK server's period, found the "
                                  f"server runs with {period} frames (start jackd with -p {block}).")
            engine = build_synth(bundle, sample_rate=rate, block=period, **engine_opts)
            warm_up(engine, period)
            host = JackHost(engine, client, connect=connect, midi_in=midi_in, queue=queue)
            block = period
            name = f"jack ({client.name}, midi_in {client.name}:midi_in)"
        except BaseException:
            client.close()
            raise
    else:
        from .portaudio_backend import PortAudioHost, open_midi_inputs, resolve_output_device

        dev = resolve_output_device(device)
        import sounddevice as sd

        info = sd.query_devices(dev)
        rate = int(sample_rate or bundle.manifest.sample_rate)
        block = int(block or 256)
        engine = build_synth(bundle, sample_rate=rate, block=block, **engine_opts)
        midi_ins, midi_ports = open_midi_inputs(queue, midi_in, virtual_midi)
        try:
            host = PortAudioHost(engine, dev, rate, block, queue=queue)
        except BaseException:
            for m in midi_ins:
                m.close_port()
            raise
        warm_up(engine, block)
        name = (f"portaudio ({info['name']}, {sd.query_hostapis(info['hostapi'])['name']}; "
                f"midi: {', '.join(midi_ports) or 'none'})")
    line = latency_line(folder, name, rate, block, engine, voices)

    stop = threading.Event()
    status = 0
    try:
        with realtime_python():
            host.start()
            print(line, file=out, flush=True)
            gc.freeze()  # everything the callback touches exists now
            if performance is not None:
                threading.Thread(target=_player, args=(queue, performance, stop),
                                 daemon=True).start()
            try:
                if duration is not None:
                    deadline = time.monotonic() + duration
                    while time.monotonic() < deadline:
                        time.sleep(0.05)
                        _check(host)
                else:
                    host.wait()
            except KeyboardInterrupt:
                status = 0  # Ctrl-C is how a live session ends
    finally:
        stop.set()
        try:
            host.stop()
        except Exception:  # a device that went away: the report below still matters
            pass
        if backend == "portaudio":
            for m in midi_ins:
                m.close_port()
        print(host.meter.report(rate), file=out, flush=True)
    return status


def _check(host):
    if getattr(host, "error", None) is not None or (hasattr(host, "shutdown")
                                                     and host.shutdown.is_set()):
        host.wait()  # raises the right DeviceError


def list_devices(out=None):
    """Print audio output/input devices with host API, MIDI input ports and JACK ports."""
    out = out or sys.stdout
    try:
        import sounddevice as sd

        apis = sd.query_hostapis()
        devs = sd.query_devices()
        print("Audio devices (index: name [host API] in/out channels, default rate):", file=out)
        if not len(devs):
            print("  none (host APIs: " + ", ".join(a["name"] for a in apis) + ")", file=out)
        for d in devs:
            mark = ("*" if d["index"] == sd.default.device[1] else " ")
            print(f" {mark}{d['index']}: {d['name']} [{apis[d['hostapi']]['name']}] "
                  f"{d['max_input_channels']} in / {d['max_output_channels']} out, "
                  f"{d['default_samplerate']:.0f} Hz", file=out)
    except OSError as e:
        print(f"Audio devices: PortAudio unavailable ({e})", file=out)
    from .portaudio_backend import midi_input_ports

    ports = midi_input_ports()
    print("MIDI input ports (rtmidi, for --midi-in):", file=out)
    for i, p in enumerate(ports):
        print(f"  {i}: {p}", file=out)
    if not ports:
        print("  none", file=out)
    from .jack_backend import open_client

    try:
        client = open_client("rtsynth-devices")
    except DeviceError:
        print("JACK: no server running", file=out)
        return 0
    try:
        print(f"JACK ports (server at {client.samplerate} Hz, {client.blocksize} frames):", file=out)
        for p in client.get_ports():
            kind = "midi" if p.is_midi else "audio"
            direction = "out" if p.is_output else "in"
            print(f"  {p.name} ({kind} {direction})", file=out)
    finally:
        client.close()
    return 0


@dataclass(frozen=True)
class DemoResult:
    """What ``rtsynth demo`` did: 'played', 'rendered' or 'fallback' and the file it wrote."""

    action: str
    out_path: Path = None
    message: str = ""


def run_demo(out_dir="out", model=None, force_render=False, listen=True, out=None):
    """``make run``: the demo performance through CANNe, live or rendered.

    With an audio output (a JACK server or a PortAudio device) the demo plays
    live and then keeps listening to MIDI until Ctrl-C; without one it is
    rendered to ``<out_dir>/demo.wav``. Without a trained bundle
    (``models/canne``) the magnitude-only resynthesis demo runs instead, and
    the sentence says so.
    """
    from .performance import DEMO_SECONDS, demo_messages, messages_to_events

    out = out or sys.stdout
    try:
        folder = resolve_bundle("canne", model)
    except ModelError:
        from .resynth import run_demo as resynth_demo

        r = resynth_demo(out_dir)
        msg = (f"models/canne is missing (the trained CANNe bundle has not been exported yet), "
               f"so the phase-reconstruction demo ran instead: wrote {r.out_path}.")
        print(msg, file=out)
        return DemoResult("fallback", r.out_path, msg)
    if not force_render and has_audio_output():
        print(f"Playing the {DEMO_SECONDS:.0f} s demo performance; then play your MIDI "
              f"keyboard, Ctrl-C to stop.", file=out, flush=True)
        play("canne", model=folder, performance=demo_messages(), out=out,
             duration=None if listen else DEMO_SECONDS + 1.0)
        return DemoResult("played", None, "")
    from ..model import load_bundle
    from .render import render_midi

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"out_dir={str(out_dir)!r}: expected a folder that can be created, "
                         f"found {e.strerror or e}.") from None
    bundle = load_bundle(folder)
    rate = bundle.manifest.sample_rate
    events = messages_to_events(demo_messages(), rate)
    r = render_midi(bundle, events, out_dir / "demo.wav", progress=False)
    msg = (f"No audio output device here, so the demo performance was rendered through CANNe "
           f"({folder}) to {r.out_path} ({r.seconds:.1f} s at {rate} Hz).")
    print(msg, file=out)
    return DemoResult("rendered", r.out_path, msg)
