"""The ``rtsynth`` command: argument parsing and error reporting only.

Each subcommand hands its work to the host layer. Deliberate errors
(:class:`~rtsynth.errors.RtsynthError`) become one ``rtsynth: error: ...`` line
and exit status 1; Ctrl-C exits 130 without a traceback; commands that arrive
with a later issue exit 2 with a sentence saying which one.
"""

import argparse
import math
import sys

from . import __version__
from .cli_options import (add_control_args, add_learn_parser, add_live_control_args,
                          effect_preset_commands, split_preset)
from .errors import InputError, RtsynthError

__all__ = ["main", "build_parser"]

#: Subcommands not implemented yet -> (one-line help, the issue that brings them).
PENDING = {}


def main(argv=None):
    """Run the ``rtsynth`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        Exit status: 0 success, 1 a reported error, 2 usage error or a command
        that is not available yet, 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except RtsynthError as e:
        print(f"rtsynth: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser():
    """The argparse parser with every subcommand registered.

    Returns
    -------
    argparse.ArgumentParser
    """
    from .host.resynth import METHODS

    parser = argparse.ArgumentParser(
        prog="rtsynth",
        description="Real-time host for small neural spectral instruments "
                    "(CANNe synthesizer, ANNe effect).")
    parser.add_argument("--version", action="version", version=f"rtsynth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")

    for name, (help_, _) in PENDING.items():
        p = sub.add_parser(name, help=help_, description=help_.capitalize() + ".")
        p.set_defaults(func=_pending)

    p = sub.add_parser(
        "play", help="play CANNe (synth) or ANNe (effect) live",
        description="Play live: JACK (MIDI on <name>:midi_in; ANNe's audio on <name>:in_1) "
                    "when a JACK server runs, else PortAudio with MIDI from rtmidi ports. "
                    "Ctrl-C stops and prints the DSP load and xrun count.")
    _instrument_args(p)
    p.add_argument("--backend", choices=["jack", "portaudio"],
                   help="audio backend (default: jack when a JACK server runs, else portaudio)")
    p.add_argument("--jack-name", default="rtsynth", help="JACK client name (default: rtsynth)")
    p.add_argument("--connect", action="store_true",
                   help="JACK: connect out_1/out_2 to the system playback ports (and in_1 "
                        "from the first capture port)")
    p.add_argument("--device", help="PortAudio output device, NAME (substring) or INDEX")
    p.add_argument("--input-device", help="anne, PortAudio: input device, NAME or INDEX")
    p.add_argument("--midi-in", metavar="NAME",
                   help="MIDI input port name substring (rtmidi; with JACK: a JACK MIDI "
                        "output to connect to midi_in)")
    p.add_argument("--virtual-midi", action="store_true",
                   help="PortAudio: also open a virtual MIDI input port")
    p.add_argument("--sample-rate", type=int,
                   help="PortAudio: device rate (default: the model's when the device takes "
                        "it, else the device's); JACK: must match the server")
    p.add_argument("--block", type=int,
                   help="frames per block (PortAudio default 256; JACK: the server's period)")
    p.add_argument("--ui", action="store_true",
                   help="show the performer view in the terminal: parameter bars (arrows/mouse), "
                        "meters, DSP load, xruns, MIDI activity; the letter rows play notes")
    p.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    add_live_control_args(p)
    p.set_defaults(func=_play)

    p = sub.add_parser(
        "render", help="render a MIDI file through CANNe, or a sound file through ANNe",
        description="canne: play a MIDI file (notes, velocity, CC 21-28 latents, pitch bend, "
                    "sustain) through the same engine as live, sample-accurately. anne: a "
                    "sound file (any rate and channel count) through the effect, time-aligned "
                    "(latency compensated), same length, rate and channels. Writes a WAV (to "
                    "a temporary file, renamed when complete).")
    _instrument_args(p)
    p.add_argument("--midi", metavar="IN.mid", help="canne: Standard MIDI File")
    p.add_argument("--in", dest="in_path", metavar="IN.wav", help="anne: input sound file")
    p.add_argument("--out", required=True, metavar="OUT.wav", help="WAV file to write")
    p.add_argument("--plot", metavar="OUT.png",
                   help="also write a spectrogram PNG (anne: input and output)")
    p.add_argument("--sample-rate", type=int, help="canne: output rate (default: the model's)")
    p.add_argument("--block", type=int, default=256,
                   help="block size, as a live period (default: 256)")
    p.add_argument("--pcm24", action="store_true",
                   help="write 24-bit PCM instead of 32-bit float")
    p.set_defaults(func=_render)
    add_learn_parser(sub)

    p = sub.add_parser(
        "inspect", help="summarise a model and plot what each latent neuron (or knob) does",
        description="Print a bundle's manifest summary and write it (summary.txt) with PNGs "
                    "into DIR: a synth's spectra along each latent's sweep (latent_sweeps.png, "
                    "latent_pitch.png), or what an effect's knobs a-e do (knobs.png).")
    p.add_argument("model", metavar="MODEL", help="model bundle folder (e.g. models/canne)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for summary.txt and PNGs")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("devices", help="list audio and MIDI devices and JACK ports",
                       description="List audio devices (with host API), MIDI input ports "
                                   "and, when a JACK server runs, its ports.")
    p.set_defaults(func=_devices)

    p = sub.add_parser(
        "demo", help="play the built-in demo performance through CANNe (what `make run` does)",
        description="Play the built-in demo performance through CANNe on the default "
                    "device, then keep listening to MIDI until Ctrl-C; with no audio "
                    "device, render it to OUT_DIR/demo.wav. Without a trained "
                    "models/canne, run the phase-reconstruction demo instead.")
    p.add_argument("--out-dir", default="out", help="folder for the WAV (default: out)")
    p.add_argument("--model", help="CANNe bundle folder (default: models/canne)")
    p.add_argument("--render", action="store_true", help="render to a WAV even with a device")
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "resynth", help="rebuild a sound from its STFT magnitudes alone (phase test)",
        description="Keep only the STFT magnitudes of a sound, rebuild the phase "
                    "frame by frame with a streaming method, overlap-add and write "
                    "the result; prints the spectral convergence in dB.")
    p.add_argument("--in", dest="in_path", metavar="IN",
                   help="input sound file (default: the built-in demo signal)")
    p.add_argument("--out", dest="out_path", metavar="OUT", required=True,
                   help="output sound file (.wav, .flac, ...)")
    p.add_argument("--n-fft", type=int, default=4096, help="FFT size (default: 4096)")
    p.add_argument("--hop", type=int, default=256, help="hop size (default: 256)")
    p.add_argument("--method", choices=list(METHODS), default="rtpghi",
                   help="phase method (default: rtpghi)")
    p.set_defaults(func=_resynth)
    return parser


def _pending(args):
    """Say which issue brings a subcommand that is not available yet."""
    issue = PENDING[args.command][1]
    print(f"rtsynth {args.command} is not yet available (it arrives with {issue}).",
          file=sys.stderr)
    return 2


def _resynth(args):
    """``rtsynth resynth``: one file (or the demo signal) through a phase method."""
    from .host.resynth import resynth_file

    r = resynth_file(args.in_path, args.out_path, n_fft=args.n_fft,
                     hop=args.hop, method=args.method)
    print(f"SC = {_sc(r.sc_db)} (method={r.method}, n_fft={r.n_fft}, hop={r.hop}); "
          f"wrote {r.out_path} ({r.n_samples / r.sample_rate:.2f} s at {r.sample_rate} Hz).")
    return 0


def _demo(args):
    """``rtsynth demo``: what ``make run`` does."""
    from .host.play import run_demo

    run_demo(args.out_dir, model=args.model, force_render=args.render)
    return 0


def _instrument_args(p):
    """Arguments shared by ``play`` and ``render``."""
    p.add_argument("instrument", choices=["canne", "anne"],
                   help="canne (synthesizer) or anne (effect)")
    p.add_argument("--model", metavar="FOLDER",
                   help="model bundle folder (default: models/<instrument>)")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                   help="run the bundle's fp32 ONNX files or its int8 variant (about half "
                        "the decoder time, spectral convergence within 0.002; default: fp32)")
    g = p.add_argument_group("canne")
    g.add_argument("--latents", metavar="V1,...,V8", type=_floats,
                   help="starting latents (default: the bundle's first preset)")
    g.add_argument("--hop", type=_positive_int, default=None,
                   help="synthesis hop in samples (default: n_fft/8, 512 at n_fft 4096; "
                        "chosen by measurement)")
    g.add_argument("--voices", type=_positive_int, help="polyphony 1..64 (default: 8)")
    g.add_argument("--mode", choices=["pitch", "shift", "shift-nowrap"],
                   help="note -> sound: the played pitch, or the thesis' bin shift (default: pitch)")
    g.add_argument("--fx", metavar="FOLDER",
                   help="play the synth through the ANNe effect of this bundle")
    g = p.add_argument_group("anne (and canne --fx)")
    g.add_argument("--knobs", metavar="A,B,C,D,E", type=_floats,
                   help="knob gains a-e in [0.5, 5.5] (default: 1,1,1,1,1)")
    g.add_argument("--sizes", metavar="N1,...,N5", type=_ints,
                   help="custom sub-vector sizes (sum = the latent size; implies --preset custom)")
    g.add_argument("--wet", type=float, help="dry/wet 0..1 (default: 1)")
    g.add_argument("--bypass", action="store_true", help="start bypassed (dry only)")
    add_control_args(p)


_EFFECT_OPTIONS = ("knobs", "preset", "sizes", "wet", "bypass")


def _check_options(args):
    """One sentence for an option that does not belong to the chosen instrument."""
    def given(name):
        return getattr(args, name, None) not in (None, False)

    if args.instrument == "anne":
        bad = [n for n in ("latents", "hop", "voices", "mode", "fx", "midi") if given(n)]
        if args.command == "render" and given("sample_rate"):
            bad.append("sample_rate")  # the output keeps the input's rate
    else:
        bad = [n for n in ("in_path", "input_device") if given(n)]
        bad += [n for n in _EFFECT_OPTIONS if given(n) and not args.fx]
    if bad:
        name = bad[0]
        opt = "--" + {"in_path": "in"}.get(name, name).replace("_", "-")
        owner = ("anne" if name in ("in_path", "input_device") else
                 "anne` or `canne --fx FOLDER" if name in _EFFECT_OPTIONS else "canne")
        why = " (the output keeps the input's rate)" if name == "sample_rate" else ""
        raise InputError(f"{opt}: expected only with `rtsynth {args.command} {owner}`, found it "
                         f"given to `rtsynth {args.command} {args.instrument}`{why}.")


def _fx_options(args):
    return {"knobs": args.knobs, "preset": args.preset, "sizes": args.sizes, "wet": args.wet,
            "bypass": args.bypass}


def _ints(text):
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 13,13,13,13,12, found {text!r}") from None


def _floats(text):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers like 1,0,0,0,0,0,0,0, found {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, found {text!r}")
    return values


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return value


def _play(args):
    """``rtsynth play``: live until Ctrl-C."""
    from .host.play import play

    split_preset(args)
    _check_options(args)
    return play(args.instrument, model=args.model, backend=args.backend,
                jack_name=args.jack_name, connect=args.connect, device=args.device,
                input_device=args.input_device, midi_in=args.midi_in,
                virtual_midi=args.virtual_midi, sample_rate=args.sample_rate, block=args.block,
                hop=args.hop, voices=args.voices or 8, mode=args.mode or "pitch",
                latents=args.latents, fx=args.fx, fx_options=_fx_options(args),
                duration=args.duration, ui=args.ui, map_path=args.map_path,
                preset=args.sound_preset, osc=args.osc, osc_host=args.osc_host,
                precision=args.precision)


def _render(args):
    """``rtsynth render``: a MIDI file through CANNe, or a sound file through ANNe, into a WAV."""
    from .host.interrupt import deferred_sigint

    with deferred_sigint():  # Ctrl-C stops between blocks, not inside numba or onnxruntime
        return _render_now(args)


def _render_now(args):
    from .host.play import load_instrument, resolve_bundle

    split_preset(args)
    _check_options(args)
    if args.instrument == "anne" and args.in_path is None:
        raise InputError("in: expected `rtsynth render anne --in IN.wav`, found no --in.")
    if args.instrument == "canne" and args.midi is None:
        raise InputError("midi: expected `rtsynth render canne --midi IN.mid`, found no --midi.")
    folder = resolve_bundle(args.instrument, args.model)
    bundle = load_instrument(folder, args.precision)
    subtype = "PCM_24" if args.pcm24 else "FLOAT"
    progress = sys.stderr.isatty()
    if args.instrument == "anne":
        from .host.effect_render import render_effect

        commands = (effect_preset_commands(folder, args.sound_preset)
                    if args.sound_preset else None)
        r = render_effect(bundle, args.in_path, args.out, block=args.block, plot=args.plot,
                          progress=progress, subtype=subtype, commands=commands,
                          **_fx_options(args))
        if r.nonfinite_input:
            print(f"rtsynth: warning: in={args.in_path!r}: {r.nonfinite_input} non-finite "
                  f"samples (NaN/Inf) were replaced by silence; the output is finite.",
                  file=sys.stderr)
        extra = f" and {r.plot_path}" if r.plot_path else ""
        rs = "" if r.model_rate == r.sample_rate else f", resampled to {r.model_rate} Hz and back"
        print(f"Wrote {r.out_path}{extra}: {r.seconds:.2f} s at {r.sample_rate} Hz, "
              f"{r.channels} channel{'s' * (r.channels != 1)}{rs}, latency {r.latency_samples} "
              f"samples compensated, peak {r.peak:.3f}, rendered in {r.elapsed:.1f} s.")
        return 0
    from .host.render import render_midi

    fx = None if args.fx is None else load_instrument(args.fx, args.precision)
    r = render_midi(bundle, args.midi, args.out, sample_rate=args.sample_rate, block=args.block,
                    latents=args.latents, plot=args.plot, progress=progress, subtype=subtype,
                    hop=args.hop, polyphony=args.voices, mode=args.mode, fx=fx,
                    fx_options=_fx_options(args), map_path=args.map_path,
                    preset=args.sound_preset)
    extra = f" and {r.plot_path}" if r.plot_path else ""
    warn = f"; {r.nonfinite} non-finite values replaced" if r.nonfinite else ""
    fx = f", through {args.fx} (latency compensated)" if args.fx else ""
    print(f"Wrote {r.out_path}{extra}: {r.seconds:.2f} s at {r.sample_rate} Hz, "
          f"{r.n_notes} notes{fx}, peak {r.peak:.3f}, rendered in {r.elapsed:.1f} s{warn}.")
    return 0


def _inspect(args):
    """``rtsynth inspect``: manifest summary and plots of what each latent/knob does."""
    from .host.inspect import inspect_model

    return inspect_model(args.model, args.out) and 0


def _devices(args):
    """``rtsynth devices``."""
    from .host.play import list_devices

    return list_devices()


def _sc(sc_db):
    """Spectral convergence for humans; NaN means the input was silent."""
    return "n/a (silent input)" if math.isnan(sc_db) else f"{sc_db:.2f} dB"


def _one_line(exc):
    """An exception's message squeezed onto one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
