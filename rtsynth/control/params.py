"""The parameter namespace: every playable parameter by name, its range, and its command.

One vocabulary for mapping files, presets, OSC addresses and the live view:

=====================  ===========  ==========================================
name                   instrument   value (units)
=====================  ===========  ==========================================
``latent.0`` ..        canne        latent units, manifest ``latent_range``
``knob.a`` .. ``e``    anne         gain 0.5..5.5 on the knob's sub-vector
``gain.0`` ..          anne         per-neuron gain 0..5.5 (times its knob)
``wet``                anne         dry/wet 0..1
``bypass``             anne         0 or 1
``attack`` ``decay``   canne        seconds 0..10
``sustain``            canne        level 0..1
``release``            canne        seconds 0..10
``volume``             canne        linear gain 0..2
``mode``               canne        0 pitch, 1 shift, 2 shift-nowrap
=====================  ===========  ==========================================

:func:`to_command` turns a value into the command tuple the engine applies
(the control layer never calls the engine). Curves map a control position
``u`` in 0..1 onto ``[lo, hi]``: ``lin`` straight; ``exp`` grows
exponentially (fine steps at the low end, what an audio-taper pot does:
``lo + (hi - lo) * (2**(K u) - 1) / (2**K - 1)``, K = log2(100)); ``log`` is
its mirror image (fine steps at the high end).
"""

import math
from dataclasses import dataclass

from rtsynth.errors import InputError

__all__ = ["ParamSpec", "param_specs", "to_command", "from_unit", "to_unit", "find_spec",
           "CURVES", "MODES", "KNOB_NAMES", "KNOB_RANGE", "GAIN_RANGE", "ADSR_NAMES",
           "INSTRUMENTS"]

CURVES = ("lin", "log", "exp")
#: CANNe note modes, by index (the engine's MODES, in the same order)
MODES = ("pitch", "shift", "shift-nowrap")
KNOB_NAMES = "abcde"
KNOB_RANGE = (0.5, 5.5)
GAIN_RANGE = (0.0, 5.5)
ADSR_NAMES = ("attack", "decay", "sustain", "release")
INSTRUMENTS = ("canne", "anne")
#: the engine's defaults (CanneSynth adsr, volume 1)
_ADSR_DEFAULTS = (0.005, 0.1, 0.8, 0.3)
_TIME_MAX = 10.0
# exp/log curve steepness: the curve spans 100:1 between its first step and full scale
_K = math.log2(100.0)
_K_SPAN = 2.0 ** _K - 1.0


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: name, range, default, curve, unit and kind.

    Attributes
    ----------
    name : str
        e.g. ``latent.3``, ``knob.b``, ``attack``.
    lo, hi : float
        Range in the parameter's units.
    default : float
        Value when nothing has set it.
    curve : {'lin', 'log', 'exp'}
        The natural taper for a knob on this parameter (mapping files may override).
    unit : str
        For display: ``s``, ``x`` (gain), ``''``.
    kind : {'float', 'toggle', 'enum'}
        ``toggle`` is 0/1; ``enum`` an index into ``choices``.
    choices : tuple of str
        Labels of an enum's values.
    command : str
        Head of the engine command (``latent``, ``knob``, ``gain``, ``adsr``, ...).
    index : int
        Index carried by the command (latent, knob, neuron, ADSR stage).
    """

    name: str
    lo: float
    hi: float
    default: float
    curve: str = "lin"
    unit: str = ""
    kind: str = "float"
    choices: tuple = ()
    command: str = ""
    index: int = 0

    @property
    def group(self) -> str:
        """The part of the name before the dot (``latent``, ``knob``, ``gain``) or the name."""
        return self.name.split(".", 1)[0]

    def clamp(self, value) -> float:
        """``value`` limited to ``[lo, hi]`` (an enum rounded to an index)."""
        v = min(self.hi, max(self.lo, float(value)))
        return float(round(v)) if self.kind != "float" else v


def param_specs(instrument, manifest=None) -> list:
    """Every parameter of ``instrument`` ('canne' or 'anne') for a model manifest.

    Without a manifest, CANNe has 8 latents in normalised units 0..1 (the
    engine maps them onto the manifest range) and ANNe 64 neuron gains.
    For CANNe through ANNe, concatenate both lists.

    Returns
    -------
    list of ParamSpec
    """
    if instrument == "canne":
        return _latent_specs(manifest) + _synth_specs()
    if instrument == "anne":
        n = manifest.latent_dim if manifest is not None else 64
        return _effect_specs(n)
    raise InputError(f"instrument={instrument!r}: expected one of {', '.join(INSTRUMENTS)}.")


def find_spec(specs, name, source="parameter"):
    """The spec called ``name`` in ``specs``; one sentence listing the groups when unknown."""
    for s in specs:
        if s.name == name:
            return s
    groups = ", ".join(dict.fromkeys(_pattern(s) for s in specs))
    raise InputError(f"{source}: expected a parameter name among {groups}, found {name!r}.")


def to_command(spec, value) -> tuple:
    """The engine command setting ``spec`` to ``value`` (parameter units, clamped).

    ``latent.i`` -> ``("latent", i, u)`` with u in 0..1 of the spec's range;
    ``knob.x`` -> ``("knob", i, u)``; ``gain.n`` -> ``("gain", n, g)``;
    ``wet`` -> ``("wet", w)``; ``bypass`` -> ``("bypass", bool)``;
    ADSR -> ``("adsr", stage 0..3, value)``; ``volume`` -> ``("volume", g)``;
    ``mode`` -> ``("mode", index)``.
    """
    v = spec.clamp(value)
    head = spec.command
    if head == "latent" or head == "knob":
        span = spec.hi - spec.lo
        return (head, spec.index, (v - spec.lo) / span if span > 0 else 0.0)
    if head == "gain" or head == "adsr":
        return (head, spec.index, v)
    if head == "bypass":
        return (head, v >= 0.5)
    if head == "mode":
        return (head, int(v))
    return (head, v)


def from_unit(u, lo, hi, curve="lin") -> float:
    """The value at control position ``u`` (0..1, clamped) on ``curve`` from ``lo`` to ``hi``."""
    u = min(1.0, max(0.0, u))
    if curve == "exp":
        u = (2.0 ** (_K * u) - 1.0) / _K_SPAN
    elif curve == "log":
        u = math.log2(1.0 + _K_SPAN * u) / _K
    return lo + (hi - lo) * u


def to_unit(value, lo, hi, curve="lin") -> float:
    """The control position (0..1) of ``value``: the inverse of :func:`from_unit`."""
    span = hi - lo
    u = min(1.0, max(0.0, (value - lo) / span)) if span else 0.0
    if curve == "exp":
        return math.log2(1.0 + _K_SPAN * u) / _K
    if curve == "log":
        return (2.0 ** (_K * u) - 1.0) / _K_SPAN
    return u


def _latent_specs(manifest):
    if manifest is None:
        return [ParamSpec(f"latent.{i}", 0.0, 1.0, 0.5, command="latent", index=i)
                for i in range(8)]
    presets = getattr(manifest, "presets", None) or {}
    first = next(iter(presets.values()), None)
    specs = []
    for i, (lo, hi) in enumerate(manifest.latent_range):
        default = float(first[i]) if first is not None else 0.5 * (lo + hi)
        specs.append(ParamSpec(f"latent.{i}", float(lo), float(hi),
                               min(float(hi), max(float(lo), default)),
                               command="latent", index=i))
    return specs


def _synth_specs():
    a, d, s, r = _ADSR_DEFAULTS
    return [
        ParamSpec("attack", 0.0, _TIME_MAX, a, "exp", "s", command="adsr", index=0),
        ParamSpec("decay", 0.0, _TIME_MAX, d, "exp", "s", command="adsr", index=1),
        ParamSpec("sustain", 0.0, 1.0, s, command="adsr", index=2),
        ParamSpec("release", 0.0, _TIME_MAX, r, "exp", "s", command="adsr", index=3),
        ParamSpec("volume", 0.0, 2.0, 1.0, "exp", "x", command="volume"),
        ParamSpec("mode", 0.0, len(MODES) - 1.0, 0.0, kind="enum", choices=MODES,
                  command="mode"),
    ]


def _effect_specs(latent_dim):
    lo, hi = KNOB_RANGE
    specs = [ParamSpec(f"knob.{k}", lo, hi, 1.0, unit="x", command="knob", index=i)
             for i, k in enumerate(KNOB_NAMES)]
    glo, ghi = GAIN_RANGE
    specs += [ParamSpec(f"gain.{n}", glo, ghi, 1.0, unit="x", command="gain", index=n)
              for n in range(latent_dim)]
    specs += [ParamSpec("wet", 0.0, 1.0, 1.0, command="wet"),
              ParamSpec("bypass", 0.0, 1.0, 0.0, kind="toggle", command="bypass")]
    return specs


def _pattern(spec):
    """``latent.0..7``-style summary of a spec's group, for error messages."""
    if "." not in spec.name:
        return spec.name
    return f"{spec.group}.*"
