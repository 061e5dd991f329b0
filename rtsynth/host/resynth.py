"""Offline phase-reconstruction round trip: magnitudes only -> streaming phase -> audio.

``resynth_file`` reads a sound file (or uses :func:`demo_signal`), keeps only its
STFT magnitudes, rebuilds the phase frame by frame with one of the streaming
phase reconstructors from :mod:`rtsynth.dsp`, overlap-adds the result and writes
it atomically. The spectral convergence against the original magnitudes says
how well the phase method did. It is the offline reference for the phase stage
of the live CANNe path, which also only ever has magnitudes.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .fileio import atomic_path, one_line, open_audio

__all__ = [
    "METHODS", "DEMO_RATE", "ResynthResult",
    "demo_signal", "resynthesize", "resynth_file", "run_demo",
]

#: Phase methods by CLI name (built through :data:`rtsynth.dsp.PHASE_METHODS`;
#: a plain tuple here so that ``rtsynth --help`` does not import numba).
METHODS = ("rtpghi", "rtpghi1", "thesis", "random")

DEMO_RATE = 44100


@dataclass(frozen=True)
class ResynthResult:
    """What one resynthesis produced.

    Attributes
    ----------
    out_path : pathlib.Path
        Where the audio was written.
    sc_db : float
        Spectral convergence of the output against the input magnitudes, in dB
        (NaN for a silent input, where it is undefined).
    sample_rate : int
    n_samples : int
        Output length (always equal to the input length).
    method, n_fft, hop
        The settings used.
    """

    out_path: Path
    sc_db: float
    sample_rate: int
    n_samples: int
    method: str
    n_fft: int
    hop: int


def demo_signal(sample_rate=DEMO_RATE, seconds=4.0):
    """The built-in demo: a C-major chord with vibrato, then a short rising chirp.

    Parameters
    ----------
    sample_rate : int
    seconds : float

    Returns
    -------
    ndarray, shape (round(sample_rate * seconds),), float64, peak 0.5
    """
    n = int(round(sample_rate * seconds))
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    # Chord over the first 70 %: vibrato makes the partials move, which is what
    # separates a real phase-gradient method from time-only integration.
    chord_end = 0.7 * seconds
    vibrato = 1.0 + 0.004 * np.sin(2 * np.pi * 5.5 * t)
    for f0 in (261.63, 329.63, 392.00):
        phase = 2 * np.pi * f0 * np.cumsum(vibrato) / sample_rate
        for k, amp in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.12)):
            y += amp * np.sin(k * phase)
    y *= _envelope(t, 0.0, chord_end, 0.02, 0.3)
    # Exponential chirp 200 Hz -> 4 kHz: a transient-ish sweep across many bins.
    c0, c1 = chord_end + 0.1, min(seconds, chord_end + 0.6)
    f_a, f_b, dur = 200.0, 4000.0, c1 - c0
    tc = np.clip(t - c0, 0.0, dur)
    k = np.log(f_b / f_a) / dur
    chirp = np.sin(2 * np.pi * f_a * (np.exp(k * tc) - 1.0) / k)
    y += 1.5 * chirp * _envelope(t, c0, c1, 0.01, 0.05)
    return 0.5 * y / np.max(np.abs(y))


def resynthesize(x, n_fft, hop, method):
    """Rebuild ``x`` from its STFT magnitudes alone with a streaming phase method.

    Parameters
    ----------
    x : ndarray, shape (n_samples,), float64
    n_fft, hop : int
    method : str
        A key of :data:`METHODS`.

    Returns
    -------
    y : ndarray, shape (n_samples,)
    sc_db : float
        Spectral convergence of ``|STFT(y)|`` against ``|STFT(x)|`` in dB;
        NaN when ``x`` is silent.
    """
    # Imported here, not at the top: `rtsynth --help` imports this module for
    # METHODS and should not pay for compiling the DSP kernels.
    from .. import dsp

    if method not in METHODS:
        raise InputError(
            f"method={method!r}: expected one of {', '.join(METHODS)}")
    mags = np.abs(dsp.stft(x, n_fft, hop))
    phaser = dsp.PHASE_METHODS[method](n_fft, hop)
    latency = int(phaser.latency_frames)
    coeffs = np.zeros(mags.shape, dtype=np.complex128)
    # Frame by frame, exactly as the live path will feed it; a method with
    # look-ahead answers `latency` frames late and hands over the rest on flush.
    for i, frame in enumerate(mags):
        c = phaser.process(frame)
        if i >= latency:
            coeffs[i - latency] = c
    for i in range(max(0, mags.shape[0] - latency), mags.shape[0]):
        coeffs[i] = phaser.flush()
    y = dsp.istft(coeffs, n_fft, hop, length=x.shape[0])
    if not np.any(mags):
        # SC is 0/0 for a silent input; the (silent) output is still useful.
        return y, float("nan")
    recon = np.abs(dsp.stft(y, n_fft, hop))
    return y, float(dsp.spectral_convergence(mags, recon, db=True))


def resynth_file(in_path, out_path, n_fft=4096, hop=256, method="rtpghi"):
    """Read ``in_path`` (or the demo signal when None), resynthesize, write ``out_path``.

    Parameters
    ----------
    in_path : str or os.PathLike or None
        Any file libsndfile reads; multi-channel input is mixed to mono.
    out_path : str or os.PathLike
        Written via a temporary file in the same folder, then renamed, so a
        failed run never leaves a half-written file under that name.
    n_fft, hop : int
    method : str
        A key of :data:`METHODS`.

    Returns
    -------
    ResynthResult
    """
    out_path = Path(out_path)
    fmt = _check_out_path(out_path)
    if in_path is None:
        x, rate = demo_signal(), DEMO_RATE
    else:
        x, rate = _read_mono(Path(in_path))
    y, sc_db = resynthesize(x, n_fft, hop, method)
    _write_atomic(out_path, y, rate, fmt)
    return ResynthResult(out_path, sc_db, rate, y.shape[0], method, n_fft, hop)


def run_demo(out_dir="out", method="rtpghi"):
    """Resynthesize the built-in demo signal into ``<out_dir>/demo_resynth.wav``.

    Returns
    -------
    ResynthResult
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(
            f"out_dir={str(out_dir)!r}: expected a folder that can be created, "
            f"found {e.strerror or e}") from None
    return resynth_file(None, out_dir / "demo_resynth.wav", method=method)


def _envelope(t, start, stop, attack, release):
    """Linear attack/release gate that is 1 on [start+attack, stop-release]."""
    up = np.clip((t - start) / attack, 0.0, 1.0)
    down = np.clip((stop - t) / release, 0.0, 1.0)
    return up * down


def _read_mono(path):
    """Read any libsndfile-readable file as float64 mono (channels averaged)."""
    with open_audio(path) as f:
        data = f.read(dtype="float64", always_2d=True)
        rate = f.samplerate
    return data.mean(axis=1), int(rate)


def _check_out_path(path):
    """Fail before any work when ``path`` cannot be written; return its format."""
    import soundfile as sf

    fmt = path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise InputError(
            f"out={str(path)!r}: expected a sound file extension such as .wav or "
            f".flac, found {path.suffix or 'no extension'!r}")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(
            f"out={str(path)!r}: expected an existing folder to write into, "
            f"found no folder {str(parent)!r}")
    if path.is_dir():
        raise InputError(f"out={str(path)!r}: expected a file path, found a folder")
    if not os.access(parent, os.W_OK):
        raise InputError(
            f"out={str(path)!r}: expected a writable folder, found {str(parent)!r} read-only")
    return fmt


def _write_atomic(path, y, rate, fmt):
    """Write to a temporary file beside ``path`` and rename it into place."""
    import soundfile as sf

    # Float samples so a resynthesis that overshoots full scale is kept exact
    # instead of being clipped by the file format.
    subtype = "FLOAT" if sf.check_format(fmt, "FLOAT") else None
    try:
        with atomic_path(path) as tmp:
            sf.write(tmp, y, rate, format=fmt, subtype=subtype)
    except (OSError, sf.SoundFileError, RuntimeError) as e:
        raise InputError(
            f"out={str(path)!r}: expected a writable file, found the write failed "
            f"({one_line(e)})") from None
