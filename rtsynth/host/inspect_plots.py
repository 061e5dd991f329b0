"""The PNGs of ``rtsynth inspect`` (matplotlib, optional at run time; written atomically).

The numbers come from :mod:`rtsynth.host.inspect`; this module only draws them.
"""

import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from .fileio import atomic_path

__all__ = ["plot_sweeps", "plot_pitch", "plot_knobs", "FMAX_HZ"]

#: highest frequency drawn (the musically telling part of the spectrum)
FMAX_HZ = 8000.0
#: dB range of the sweep images below each image's peak
FLOOR_DB = -80.0


def plot_sweeps(data, manifest, path):
    """One image per latent: decoded spectrum (dB) over frequency against the latent's value.

    The estimated f0 along the sweep is drawn on top (white dots where the
    frame is pitched).
    """
    plt = _pyplot(path)
    dim = data.mags.shape[0]
    rows, cols = _grid(dim)
    fmax = min(FMAX_HZ, manifest.sample_rate / 2)
    top = int(math.ceil(fmax * manifest.n_fft / manifest.sample_rate)) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows + 0.6), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= dim:
            ax.axis("off")
            continue
        mags = data.mags[i, :, :top]
        db = 20 * np.log10(np.maximum(mags, 1e-12) / max(float(mags.max()), 1e-12))
        lo, hi = data.values[0, i], data.values[-1, i]
        ax.imshow(np.maximum(db, FLOOR_DB).T, origin="lower", aspect="auto", cmap="magma",
                  extent=(lo, hi if hi > lo else lo + 1, 0, fmax), vmin=FLOOR_DB, vmax=0)
        pitched = data.f0[i] > 0
        ax.plot(data.values[pitched, i], data.f0[i, pitched], ".", color="w", ms=2)
        ax.axvline(data.base[i], color="c", lw=0.8, ls=":")
        _label(ax, i, rows, cols, "frequency (Hz)")
    fig.suptitle(f"{manifest.name}: decoded spectrum along each latent's sweep (min..max); "
                 f"others at {data.base_name} (dotted); white: f0", fontsize=10)
    return _save(fig, plt, path)


def plot_pitch(data, manifest, path):
    """f0 and spectral centroid along each latent's sweep."""
    plt = _pyplot(path)
    dim = data.mags.shape[0]
    rows, cols = _grid(dim)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows + 0.6), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= dim:
            ax.axis("off")
            continue
        x = data.values[:, i]
        f0 = np.where(data.f0[i] > 0, data.f0[i], np.nan)
        ax.plot(x, f0, color="C0", label="f0")
        ax.plot(x, data.centroid[i], color="C1", label="centroid")
        ax.set_yscale("log")
        _label(ax, i, rows, cols, "Hz")
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"{manifest.name}: f0 (gaps = unpitched) and spectral centroid along each "
                 f"latent's sweep", fontsize=10)
    return _save(fig, plt, path)


def plot_knobs(data, manifest, path):
    """Per knob a-e: the output spectrum against the knob's gain (top, an image with a log
    frequency axis) and the change from all knobs at 1 at whole gains (bottom, in
    third-octave bands, so the harmonics' comb does not hide the trend)."""
    plt = _pyplot(path)
    n_bins = data.input.shape[0]
    freqs = np.arange(n_bins) * manifest.sample_rate / manifest.n_fft
    edges = _band_edges(manifest.sample_rate / 2)
    centres = np.sqrt(edges[:-1] * edges[1:])
    values = np.asarray(data.values)
    ref = max(float(data.input.max()), 1e-12)
    whole = [j for j, v in enumerate(values) if np.isclose(v, np.round(v - 0.5) + 0.5)]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(whole), 1)))
    neutral = _bands(data.neutral, freqs, edges)
    n = data.spectra.shape[0]
    fig, axes = plt.subplots(2, n, figsize=(3.3 * n, 6.4), squeeze=False)
    for k in range(n):
        top, bottom = axes[0, k], axes[1, k]
        db = 20 * np.log10(np.maximum(data.spectra[k], 1e-12) / ref)  # (values, bins)
        keep = freqs >= edges[0]
        top.pcolormesh(values, freqs[keep], np.maximum(db[:, keep], FLOOR_DB).T,
                       shading="nearest", cmap="magma", vmin=FLOOR_DB, vmax=0)
        top.axvline(1.0, color="c", lw=0.8, ls=":")
        top.set_yscale("log")
        top.set_title(f"knob {'abcde'[k]} ({data.sizes[k]} neurons)", fontsize=9)
        top.set_xlabel("gain", fontsize=8)
        for c, j in enumerate(whole):
            change = _bands(data.spectra[k, j], freqs, edges) - neutral
            bottom.plot(centres, change, color=colors[c], lw=1.0, label=f"{values[j]:g}")
        bottom.axhline(0, color="k", lw=0.5)
        bottom.set_xscale("log")
        bottom.set_ylim(-30, 30)
        bottom.set_xlabel("frequency (Hz)", fontsize=8)
        for ax in (top, bottom):
            ax.tick_params(labelsize=7)
        if k == 0:
            top.set_ylabel("frequency (Hz)", fontsize=8)
            bottom.set_ylabel("change from all knobs at 1, dB", fontsize=8)
            bottom.legend(fontsize=6, title="gain", title_fontsize=6)
    fig.suptitle(f"{manifest.name}: what each knob does to a 220 Hz harmonic tone + noise "
                 f"(others at 1; top: output dB re input peak, dotted = gain 1)", fontsize=10)
    return _save(fig, plt, path)


def _pyplot(path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(f"plot={str(path)!r}: expected matplotlib to be installed to draw the "
                         f"plots (pip install 'rtsynth[plot]'), found it missing.") from None
    return plt


def _label(ax, i, rows, cols, ylabel):
    """Title every panel of a latent grid; label only the outer axes."""
    ax.set_title(f"latent {i}", fontsize=9)
    ax.tick_params(labelsize=7)
    if i % cols == 0:
        ax.set_ylabel(ylabel, fontsize=8)
    if i // cols == rows - 1:
        ax.set_xlabel("latent value", fontsize=8)


def _band_edges(nyquist, low=40.0, per_octave=3):
    count = int(np.floor(np.log2(nyquist / low) * per_octave))
    return low * 2.0 ** (np.arange(count + 1) / per_octave)


def _bands(mag, freqs, edges):
    """Mean power per band in dB (an empty band takes its neighbour's bin)."""
    idx = np.clip(np.searchsorted(freqs, edges), 0, len(freqs) - 1)
    power = np.asarray(mag, dtype=np.float64) ** 2
    out = np.array([power[a:max(b, a + 1)].mean() for a, b in zip(idx[:-1], idx[1:])])
    return 10 * np.log10(np.maximum(out, 1e-24))


def _grid(n):
    cols = 4 if n <= 8 else 8
    return -(-n // cols), cols


def _save(fig, plt, path):
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return Path(path)
