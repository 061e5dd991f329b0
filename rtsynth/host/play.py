"""Playing CANNe and ANNe live (JACK or PortAudio), listing devices, and the ``make run`` demo."""

import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeviceError, InputError, ModelError

__all__ = ["resolve_bundle", "load_instrument", "play", "effect_details", "list_devices", "run_demo",
           "choose_backend", "has_audio_output", "DemoResult", "BACKENDS", "INSTRUMENTS"]

BACKENDS = ("jack", "portaudio")
INSTRUMENTS = ("canne", "anne")
#: ``--precision`` -> the manifest variant whose ONNX files are loaded (None: the fp32 files)
PRECISIONS = {"fp32": None, "int8": "int8"}
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


def load_instrument(folder, precision="fp32"):
    """Load a bundle folder at ``precision`` ('fp32', or 'int8': the manifest's int8
    variant, about half the decoder's time for an SC cost near 0.002; see the README).

    Raises
    ------
    InputError
        An unknown precision.
    ModelError
        The bundle breaks the contract, or its manifest lists no such variant.
    """
    from ..model import load_bundle

    if precision not in PRECISIONS:
        raise InputError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}.")
    return load_bundle(folder, variant=PRECISIONS[precision])


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


def play(instrument="canne", *, model=None, backend=None, jack_name="rtsynth", connect=False,
         device=None, input_device=None, midi_in=None, virtual_midi=False, sample_rate=None,
         block=None, hop=None, voices=8, mode="pitch", latents=None, fx=None, fx_options=None,
         performance=None, out=None, duration=None, ui=False, map_path=None, preset=None,
         osc=None, osc_host="127.0.0.1", precision="fp32"):
    """Play an instrument live until Ctrl-C; return the exit status.

    ``instrument``: 'canne' (the synth; through the ANNe bundle ``fx`` when
    given) or 'anne' (the effect on the audio input: JACK ``in_1``, or the
    PortAudio ``input_device``). ``fx_options``: knobs, preset, sizes, wet,
    bypass of the effect (see :func:`rtsynth.host.effect_render.build_effect`).
    Other parameters mirror ``rtsynth play``. ``performance``: ``(seconds, raw
    MIDI)`` messages played from a thread once the stream runs (the demo).
    ``duration``: stop after this many seconds (tests, demos). ``ui``: show
    the performer view (:mod:`rtsynth.host.ui`) in the terminal while playing.
    ``map_path``: a mapping TOML file (default: the packaged maps); ``preset``:
    a preset name or file to start with; ``osc``: a UDP port for OSC input on
    ``osc_host`` (see :mod:`rtsynth.host.osc`); ``precision``: 'fp32' or
    'int8' models (see :func:`load_instrument`). Prints the start-up line and,
    at exit, the DSP load and xrun count to ``out``.
    """
    from ..engine.chain import AudioInput, Chain
    from .effect_render import build_effect
    from .controls import build_controls
    from .live import run_live
    from .render import build_synth
    from .runtime import latency_line

    if instrument not in INSTRUMENTS:
        raise InputError(f"instrument={instrument!r}: expected one of {', '.join(INSTRUMENTS)}.")
    folder = resolve_bundle(instrument, model)
    bundle = load_instrument(folder, precision)
    fx_options = fx_options or {}
    backend = choose_backend(backend)
    fx_bundle = None
    if instrument == "anne":
        controls = build_controls("anne", bundle.manifest, map_path=map_path, preset=preset)

        def build(rate, period):
            source = AudioInput(rate, max(period, 8192))
            return Chain(source, build_effect(bundle, sample_rate=rate, block=period,
                                              **fx_options))

        def describe(engine, name, rate, period):
            # the effect's delay is exact and in the audio graph itself: no period added
            return latency_line(folder, name, rate, period,
                                effect_details(engine.effect) + _precision(precision),
                                engine.latency_samples)
    else:
        fx_bundle = None if fx is None else load_instrument(fx, precision)
        controls = build_controls("canne", bundle.manifest, fx_bundle and fx_bundle.manifest,
                                  map_path=map_path, preset=preset)

        def build(rate, period):
            synth = build_synth(bundle, sample_rate=rate, block=period, hop=hop,
                                polyphony=voices, mode=mode, latents=latents)
            if fx_bundle is None:
                return synth
            return Chain(synth, build_effect(fx_bundle, sample_rate=rate, block=period,
                                             **fx_options))

        def describe(engine, name, rate, period):
            synth = getattr(engine, "source", engine)
            details = (f"synthesis hop {synth.hop}, {voices} voices, mode {synth.mode}"
                       f"{_precision(precision)}")
            if fx is not None:
                details += f", fx {fx} ({effect_details(engine.effect)})"
            # a MIDI event waits for the next period, then the effect's delay
            return latency_line(folder, name, rate, period, details,
                                period + engine.latency_samples)

    def build_controlled(rate, period):
        engine = build(rate, period)
        controls.attach(engine)  # start preset, parameter state, the host's automation
        return engine

    server = None
    if osc is not None:
        from .osc import OscInput

        server = OscInput(controls, osc, osc_host).start()
    try:
        return run_live(build_controlled, describe, backend=backend, jack_name=jack_name,
                        connect=connect, device=device, input_device=input_device,
                        midi_in=midi_in, virtual_midi=virtual_midi, sample_rate=sample_rate,
                        block=block, model_rate=bundle.manifest.sample_rate,
                        mapper=controls.mapper, performance=performance, out=out,
                        duration=duration,
                        view=_view(instrument, bundle, fx_bundle, map_path) if ui else None)
    finally:
        if server is not None:
            server.stop()


def _view(instrument, bundle, fx_bundle, map_path):
    from .ui_bridge import make_view  # the view runs in its own process (textual there)

    return make_view(instrument, bundle.manifest, fx_bundle and fx_bundle.manifest, map_path)


def effect_details(effect):
    """The ANNe part of a start line: knobs, sizes, wet, bypass, model rate."""
    m = effect.manifest
    knobs = ",".join(f"{k:g}" for k in effect.knobs)
    sizes = ",".join(map(str, effect.sizes))
    rate = (f"model {m.sample_rate} Hz" if m.sample_rate == effect.sample_rate
            else f"model {m.sample_rate} Hz, wet path resampled")
    return (f"ANNe knobs a-e {knobs} on sizes {sizes}, wet {effect.wet:g}"
            f"{', bypass' if effect.bypass else ''}, {rate}")


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
    from .midi_ports import all_midi_input_ports

    ports = all_midi_input_ports()
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

    from .fileio import make_folder

    out_dir = make_folder(out_dir, "out_dir")
    bundle = load_bundle(folder)
    rate = bundle.manifest.sample_rate
    events = messages_to_events(demo_messages(), rate)
    r = render_midi(bundle, events, out_dir / "demo.wav", progress=False)
    msg = (f"No audio output device here, so the demo performance was rendered through CANNe "
           f"({folder}) to {r.out_path} ({r.seconds:.1f} s at {rate} Hz).")
    print(msg, file=out)
    return DemoResult("rendered", r.out_path, msg)


def _precision(precision):
    """The start line's note of a non-default model precision."""
    return "" if precision == "fp32" else f", {precision} models"
