"""``rtsynth inspect``: a bundle's manifest summary, and plots of what each latent or knob does.

A musician learns the knobs by looking: for a synth bundle (CANNe) each latent
neuron is swept from its manifest minimum to its maximum with the others at
the default preset, and the decoded spectra are drawn as an image (frequency
against sweep position) with the estimated f0 and spectral centroid along the
sweep; for an effect bundle (ANNe) a reference input made here (a harmonic
tone plus noise) goes through encoder, knob gains and decoder at knob values
0.5 .. 5.5, one knob a-e at a time, and the resulting spectra are drawn. Only
onnxruntime runs the models (through :mod:`rtsynth.model`); the drawing is in
:mod:`rtsynth.host.inspect_plots` (matplotlib, optional).
"""

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dsp import F0Estimator, frame_features, stft
from ..engine.knobs import GAIN_RANGE, N_KNOBS, knob_sizes
from ..errors import InputError
from ..model import load_bundle
from .fileio import atomic_path, make_folder

__all__ = ["inspect_model", "InspectResult", "summary_text", "latent_sweeps", "knob_spectra",
           "reference_input", "SweepData", "KnobData", "SWEEP_STEPS", "KNOB_VALUES", "KNOB_SWEEP"]

#: decoded frames per latent sweep (min .. max)
SWEEP_STEPS = 64
#: ANNe knob gains drawn as curves (the thesis range, in whole steps) ...
KNOB_VALUES = (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)
#: ... and as the image's columns (quarter steps)
KNOB_SWEEP = tuple(float(v) for v in np.linspace(0.5, 5.5, 21))


@dataclass(frozen=True)
class InspectResult:
    """What ``inspect`` wrote: the summary text and the files (summary first, then the PNGs)."""

    summary: str
    files: tuple


@dataclass(frozen=True)
class SweepData:
    """Latent sweeps of a synth bundle.

    ``values`` (steps, latent_dim): the swept values of each latent;
    ``mags`` (latent_dim, steps, n_bins): decoded magnitude frames;
    ``f0`` and ``centroid`` (latent_dim, steps) in Hz (f0 0.0 = no pitch);
    ``base`` (latent_dim,): the other latents' values; ``base_name`` names them.
    """

    values: np.ndarray
    mags: np.ndarray
    f0: np.ndarray
    centroid: np.ndarray
    base: np.ndarray
    base_name: str


@dataclass(frozen=True)
class KnobData:
    """Knob spectra of an effect bundle.

    ``spectra`` (5, len(values), n_bins): mean output magnitude of the
    reference input with one knob at each value and the others at 1;
    ``neutral`` (n_bins,): all knobs at 1; ``input`` (n_bins,): the input's
    mean magnitude; ``sizes``: the knobs' sub-vector sizes.
    """

    values: tuple
    spectra: np.ndarray
    neutral: np.ndarray
    input: np.ndarray
    sizes: tuple


def inspect_model(folder, out_dir, *, out=None):
    """Print the summary of the bundle in ``folder`` and write it and the plots into ``out_dir``.

    Writes ``summary.txt`` and, for a synth (kind ``canne``),
    ``latent_sweeps.png`` and ``latent_pitch.png``; for an effect (kind
    ``anne``), ``knobs.png``. Every file is written to a temporary name and
    renamed.

    Returns
    -------
    InspectResult

    Raises
    ------
    ModelError
        A broken bundle (one sentence from the loader).
    InputError
        ``out_dir`` cannot be created, or matplotlib is missing.
    """
    from . import inspect_plots

    out = out or sys.stdout
    bundle = load_bundle(folder)
    text = summary_text(bundle)
    print(text, file=out, flush=True)
    out_dir = make_folder(out_dir, "out")
    summary = out_dir / "summary.txt"
    with atomic_path(summary) as tmp:
        Path(tmp).write_text(text + "\n")
    files = [summary]
    m = bundle.manifest
    if m.kind == "anne":
        files.append(inspect_plots.plot_knobs(knob_spectra(bundle), m, out_dir / "knobs.png"))
    else:
        data = latent_sweeps(bundle)
        files.append(inspect_plots.plot_sweeps(data, m, out_dir / "latent_sweeps.png"))
        files.append(inspect_plots.plot_pitch(data, m, out_dir / "latent_pitch.png"))
    print("wrote " + ", ".join(str(f) for f in files), file=out, flush=True)
    return InspectResult(text, tuple(files))


def summary_text(bundle):
    """The manifest summary: instrument, rates, geometry, latent ranges, presets, metrics, files."""
    m = bundle.manifest
    what = {"canne": "synthesizer (CANNe)", "anne": "effect (ANNe)"}.get(m.kind, m.kind)
    lines = [f"model {m.folder}: {m.name}, {what}"]
    if m.description:
        lines.append(f"  {m.description}")
    lines.append(f"rate {m.sample_rate} Hz, n_fft {m.n_fft}, hop {m.hop} "
                 f"({1000.0 * m.hop / m.sample_rate:.1f} ms), {m.n_bins} bins, window {m.window}")
    lines.append(f"encoder input {m.input_features} ({m.n_features} values), frame "
                 f"normalization {m.frame_normalization}; encoder "
                 f"{'loaded' if bundle.encoder_session is not None else 'absent (synth only)'}")
    ranges = np.asarray(m.latent_range, dtype=np.float64)
    lines.append(f"latent: {m.latent_dim} neurons, ranges [min, max]:")
    for start in range(0, m.latent_dim, 4):
        lines.append("  " + "  ".join(f"{i:2d}: [{_num(ranges[i, 0])}, {_num(ranges[i, 1])}]"
                                       for i in range(start, min(start + 4, m.latent_dim))))
    if m.kind == "anne" and m.latent_dim >= N_KNOBS:
        sizes = knob_sizes(m.latent_dim, "equal")
        lines.append(f"knobs a-e: gains {GAIN_RANGE[0]}..{GAIN_RANGE[1]} on sub-vectors of "
                     f"{', '.join(map(str, sizes))} neurons (preset equal)")
    names = list(m.presets)
    lines += _wrapped(f"presets ({len(names)}, the first is the default): ", names)
    lines += _wrapped("corpus: ", _flat(m.corpus))
    lines += _wrapped("metrics: ", _flat(m.metrics))
    lines.append("files:")
    for name, size, note in _files(m):
        lines.append(f"  {name:<22} {_size(size):>9}  {note}")
    return "\n".join(lines)


def latent_sweeps(bundle, steps=SWEEP_STEPS):
    """Decode each latent's sweep from its min to its max, the others at the default preset.

    Returns
    -------
    SweepData
    """
    m = bundle.manifest
    ranges = np.asarray(m.latent_range, dtype=np.float64)
    if m.presets:
        base_name, base = next(iter(m.presets.items()))
        base = np.asarray(base, dtype=np.float64)
    else:
        base_name, base = "the middle of each range", ranges.mean(axis=1)
    dim = m.latent_dim
    values = np.linspace(ranges[:, 0], ranges[:, 1], steps)  # (steps, dim)
    z = np.broadcast_to(base, (dim, steps, dim)).copy()
    for i in range(dim):
        z[i, :, i] = values[:, i]
    mags = bundle.decode(z.reshape(-1, dim)).reshape(dim, steps, m.n_bins).astype(np.float64)
    np.maximum(mags, 0.0, out=mags)
    est = F0Estimator(m.n_fft, m.sample_rate)
    f0 = np.array([[est.estimate(mags[i, k]) for k in range(steps)] for i in range(dim)])
    freqs = np.arange(m.n_bins) * m.sample_rate / m.n_fft
    total = mags.sum(axis=2)
    centroid = np.where(total > 0, (mags @ freqs) / np.maximum(total, 1e-30), 0.0)
    return SweepData(values, mags, f0, centroid, base, base_name)


def knob_spectra(bundle, values=KNOB_SWEEP, preset="equal", seconds=2.0):
    """Mean output spectra of :func:`reference_input` with each knob a-e at each value.

    The path is the effect's (thesis chapter 3): frame / its max -> encoder ->
    latent x gains -> decoder -> x the max; phase and overlap-add do not
    change a spectrum's shape, so they are left out.

    Returns
    -------
    KnobData
    """
    m = bundle.manifest
    if bundle.encoder_session is None:
        raise InputError(f"{m.folder}: expected an encoder to show the knobs of an effect "
                         f"bundle, found none (encoder.onnx not listed).")
    sizes = knob_sizes(m.latent_dim, preset, source=m.path)
    mag = np.abs(stft(reference_input(m.sample_rate, seconds), m.n_fft, m.hop))
    peak = mag.max(axis=1)
    mag, peak = mag[peak > 1e-9], peak[peak > 1e-9]
    if m.frame_normalization != "max":
        peak = np.ones_like(peak)
    z = bundle.encode(frame_features(mag / peak[:, None], m.input_features).astype(np.float32))
    starts = np.cumsum((0,) + tuple(sizes))
    gains = np.ones((N_KNOBS, len(values), m.latent_dim), np.float32)
    for k in range(N_KNOBS):
        for j, v in enumerate(values):
            gains[k, j, starts[k]:starts[k + 1]] = v
    batch = (gains.reshape(-1, 1, m.latent_dim) * z[None]).reshape(-1, m.latent_dim)
    out = bundle.decode(batch).reshape(N_KNOBS * len(values), len(z), m.n_bins)
    spectra = (np.maximum(out, 0.0) * peak[None, :, None]).mean(axis=1)
    neutral = (np.maximum(bundle.decode(z), 0.0) * peak[:, None]).mean(axis=0)
    return KnobData(tuple(values), spectra.reshape(N_KNOBS, len(values), m.n_bins), neutral,
                    mag.mean(axis=0), tuple(sizes))


def reference_input(rate, seconds=2.0, f0=220.0, seed=0):
    """The effect's reference input: a 1/k harmonic tone at ``f0`` plus white noise 30 dB down."""
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros_like(t)
    for k in range(1, int(0.45 * rate / f0) + 1):
        x += np.sin(2 * np.pi * f0 * k * t + 0.7 * k) / k
    x *= 0.3 / np.max(np.abs(x))
    return x + 0.3 * 10 ** (-30 / 20) * np.random.default_rng(seed).standard_normal(t.shape)


def _flat(d, prefix=""):
    """``key value`` strings of a nested dict's scalars (numbers to 4 significant digits)."""
    items = []
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            items += _flat(v, f"{prefix}{k}.")
        elif isinstance(v, float):
            items.append(f"{prefix}{k} {v:.4g}")
        elif isinstance(v, (int, str, bool)):
            items.append(f"{prefix}{k} {v}")
    return items


def _wrapped(head, items):
    if not items:
        return [head + "none"]
    return textwrap.wrap(", ".join(items), width=96, initial_indent=head,
                         subsequent_indent=" " * len(head))


def _files(m):
    """(name, bytes or None, note) of the manifest and every ONNX file it lists."""
    rows = [("manifest.json", m.path, "")]
    rows += [(name, m.folder / name, f"sha256 {sha[:12]}...") for name, sha in m.files.items()]
    for variant, files in m.variants.items():
        rows += [(name, m.folder / name, f"variant {variant} of {base}")
                 for base, (name, _) in files.items()]
    return [(name, path.stat().st_size if path.is_file() else None, note)
            for name, path, note in rows]


def _num(v):
    """A latent bound, 7 characters wide, as many decimals as its size allows."""
    return f"{v:7.1f}" if abs(v) >= 100 else f"{v:7.3f}"


def _size(n):
    if n is None:
        return "missing"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
