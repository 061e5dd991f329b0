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
from .errors import RtsynthError

__all__ = ["main", "build_parser"]

#: Subcommands not implemented yet -> (one-line help, the issue that brings them).
PENDING = {
    "play": ("play the CANNe synthesizer live from a MIDI keyboard",
             "issue 4: CANNe live"),
    "render": ("render a MIDI file through an instrument to a WAV file",
               "issue 4: CANNe live"),
    "devices": ("list audio and MIDI devices and JACK ports",
                "issue 4: CANNe live"),
    "inspect": ("plot what each latent neuron of a model does",
                "issue 6: knobs, presets and model inspection"),
}


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
        "demo", help="resynthesize the built-in demo signal into out/demo_resynth.wav",
        description="Rebuild the built-in demo signal from its magnitudes only and "
                    "write out/demo_resynth.wav.")
    p.add_argument("--out-dir", default="out", help="folder for the WAV (default: out)")
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
    """``rtsynth demo``: what ``make run`` shows until the live instrument lands."""
    from .host.resynth import run_demo

    r = run_demo(args.out_dir)
    print(f"Wrote {r.out_path}: the demo signal rebuilt from magnitudes alone by "
          f"{r.method} (SC = {_sc(r.sc_db)}); the live CANNe instrument arrives "
          f"with issue 4.")
    return 0


def _sc(sc_db):
    """Spectral convergence for humans; NaN means the input was silent."""
    return "n/a (silent input)" if math.isnan(sc_db) else f"{sc_db:.2f} dB"


def _one_line(exc):
    """An exception's message squeezed onto one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
