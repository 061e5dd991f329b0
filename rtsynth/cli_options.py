"""Command-line wiring for mappings, presets, OSC and MIDI learn (kept out of cli.py).

``--map FILE`` (play, render canne), ``--preset NAME|FILE`` (play, render: a
sound preset; the ANNe sub-vector layouts ``equal``, ``log-up``, ``log-down``,
``custom`` keep their old meaning), ``--osc PORT`` and ``--osc-host HOST``
(play), and the ``rtsynth learn`` subcommand.
"""

import sys
import time

from .errors import InputError

__all__ = ["add_control_args", "add_live_control_args", "split_preset", "add_learn_parser",
           "LAYOUTS"]

#: ``--preset`` values that name ANNe's knob sub-vector layout, not a sound preset
LAYOUTS = ("equal", "log-up", "log-down", "custom")


def add_control_args(p):
    """``--preset`` and ``--map`` (shared by play and render)."""
    g = p.add_argument_group("mapping and presets")
    g.add_argument("--preset", metavar="NAME|FILE",
                   help="start from a sound preset: a name in the model's presets.toml, or a "
                        "preset TOML file (its presets become the program-change bank); "
                        f"{', '.join(LAYOUTS)} still choose ANNe's knob sub-vector sizes")
    g.add_argument("--map", dest="map_path", metavar="FILE",
                   help="MIDI mapping TOML file (default: the packaged map of the instrument)")


def add_live_control_args(p):
    """``--osc`` and ``--osc-host`` (play only)."""
    g = p.add_argument_group("OSC")
    g.add_argument("--osc", type=_port, metavar="PORT",
                   help="listen for OSC on this UDP port (/latent.0 0.5, /knob.a 2, "
                        "/wet/unit 0.3, /program 1)")
    g.add_argument("--osc-host", default="127.0.0.1", metavar="HOST",
                   help="address OSC binds to (default: 127.0.0.1, this machine only)")


def split_preset(args):
    """Tell a sound preset from an ANNe layout: sets ``args.sound_preset``, keeps a layout in
    ``args.preset``; ``--map`` with ``render anne`` (no MIDI there) is one sentence."""
    preset = getattr(args, "preset", None)
    args.sound_preset = None if preset is None or preset in LAYOUTS else preset
    if args.sound_preset is not None:
        args.preset = None
    if args.command == "render" and args.instrument == "anne" and args.map_path:
        raise InputError("--map: expected only with `rtsynth render canne` or `rtsynth play` "
                         "(render anne reads no MIDI), found it given to `rtsynth render anne`.")


def effect_preset_commands(folder, name):
    """Engine commands of an ANNe sound preset (``render anne --preset``)."""
    from .host.controls import build_controls, preset_commands
    from .model import load_manifest

    controls = build_controls("anne", load_manifest(folder), preset=name)
    return preset_commands(controls.start, controls.specs)


def add_learn_parser(sub):
    """The ``rtsynth learn`` subcommand."""
    p = sub.add_parser(
        "learn", help="MIDI learn: move a control to map it to a parameter in a mapping file",
        description="Wait for the next CC, pitch bend or aftertouch from the MIDI input and "
                    "write it into FILE as the control of PARAM (other entries are kept; the "
                    "file is created if missing and written atomically).")
    p.add_argument("param", metavar="PARAM",
                   help="parameter name: latent.N, knob.a-e, gain.N, wet, bypass, attack, "
                        "decay, sustain, release, volume, mode")
    p.add_argument("--map", dest="map_path", required=True, metavar="FILE",
                   help="mapping TOML file to add the control to")
    p.add_argument("--midi-in", metavar="NAME", help="MIDI input port name substring "
                   "(default: every input port)")
    p.add_argument("--virtual-midi", action="store_true",
                   help="also open a virtual MIDI input port")
    p.add_argument("--bits", type=int, choices=[7, 14], default=7,
                   help="14: learn a CC 0..31 as a 14-bit pair with its LSB cc + 32")
    p.add_argument("--notes", action="store_true", help="also accept a note (as a toggle)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for a control (default: 30)")
    p.set_defaults(func=_learn)


def _learn(args):
    from .control import EventQueue
    from .control.learn import MidiLearn
    from .host.midi_ports import open_midi_inputs

    learner = MidiLearn.from_file(args.map_path, bits=args.bits, notes=args.notes)
    learner.arm(args.param)
    queue = EventQueue()
    ins, names = open_midi_inputs(queue, args.midi_in, args.virtual_midi, "rtsynth-learn")
    try:
        print(f"Move a control for {args.param} (listening on {', '.join(names) or 'none'})...",
              file=sys.stderr, flush=True)
        got = []
        deadline = time.monotonic() + args.timeout
        while not got and time.monotonic() < deadline:
            queue.drain(lambda _o, s, d1, d2: got.append(learner.feed(s, d1, d2))
                        if not got or got[-1] is None else None)
            got = [e for e in got if e is not None]
            time.sleep(0.01)
    finally:
        for m in ins:
            m.close_port()
    if not got:
        raise InputError(f"learn {args.param}: expected a CC, pitch bend or aftertouch within "
                         f"{args.timeout:g} s, found none.")
    learner.save(args.map_path)
    e = got[0]
    source = f"{e.source} {e.number}" if e.source in ("cc", "note") else e.source
    print(f"Learned {source} -> {e.param}; wrote {args.map_path}.")
    return 0


def _port(text):
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a UDP port 0..65535, found {text!r}")
    return value
