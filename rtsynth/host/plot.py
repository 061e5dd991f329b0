"""Spectrogram PNGs of renders (matplotlib, optional at run time)."""

from pathlib import Path

import numpy as np

from ..errors import InputError
from .fileio import atomic_path

__all__ = ["write_spectrogram", "write_spectrograms"]


def write_spectrogram(audio, rate, path, title=""):
    """Write a log-magnitude spectrogram PNG of ``audio`` (atomically)."""
    return write_spectrograms([(audio, title)], rate, path)


def write_spectrograms(panels, rate, path):
    """Write stacked spectrograms, one per ``(audio, title)`` in ``panels``, to a PNG (atomically).

    Each panel is scaled to its own peak (0 dB) and shows 0 .. min(rate/2, 8 kHz).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(f"plot={str(path)!r}: expected matplotlib to be installed "
                         f"(pip install 'rtsynth[plot]'), found it missing.") from None
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 0.5 + 4 * len(panels)), dpi=100,
                             squeeze=False)
    for ax, (audio, title) in zip(axes[:, 0], panels):
        x = np.asarray(audio, dtype=np.float64)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak > 0:
            x = x / peak  # 0 dB = the panel's peak
        if x.size < 2048:
            x = np.pad(x, (0, 2048 - x.size))
        ax.specgram(x, NFFT=2048, Fs=rate, noverlap=1536, cmap="magma", vmin=-100, scale="dB",
                    mode="magnitude")
        ax.set_ylim(0, min(rate / 2, 8000))
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        ax.set_title(title)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)
