"""Offline ANNe: a sound file through the effect into a WAV file of the same shape.

The engine is the live one (:class:`rtsynth.engine.AnneEffect`, fed block by
block), so a render is the reference for what ``play anne`` does to the same
input. What a musician expects from an offline effect:

- **Time-aligned**: the effect's delay (``latency_samples``) is compensated:
  the first ``latency`` output samples are dropped and the tail is flushed
  with silence, so output sample ``i`` belongs to input sample ``i``.
- **Same rate, length and channel count** as the input. Any rate works: the
  wet path is resampled to the model's rate and back inside the engine.
  Each channel goes through its own engine instance with the same settings
  (a stereo file stays stereo, its image intact).
- ``wet=0`` writes the input back unchanged (float32 WAV).
- Non-finite input samples (NaN, Inf) are replaced by silence and counted.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .fileio import check_out, open_audio, wav_writer
from .interrupt import interruption_point
from .render import check_block, progress_bar

__all__ = ["EffectRenderResult", "build_effect", "render_effect"]


@dataclass(frozen=True)
class EffectRenderResult:
    """What one offline effect render produced.

    Attributes
    ----------
    out_path : pathlib.Path or None
    sample_rate, n_samples, channels : int
        Those of the input, and so of the output.
    latency_samples : int
        The effect's delay at this rate, compensated in the output.
    model_rate : int
        The bundle's rate (the wet path is resampled when it differs).
    nonfinite_input : int
        NaN/Inf input samples replaced by silence.
    peak : float
    plot_path : pathlib.Path or None
    elapsed : float
    audio : ndarray, shape (n_samples, channels), or None
    """

    out_path: Path
    sample_rate: int
    n_samples: int
    channels: int
    latency_samples: int
    model_rate: int
    nonfinite_input: int
    peak: float
    plot_path: Path = None
    elapsed: float = 0.0
    audio: np.ndarray = None

    @property
    def seconds(self):
        return self.n_samples / self.sample_rate


def build_effect(bundle, *, sample_rate=None, block=256, knobs=None, preset=None, sizes=None,
                 wet=None, bypass=False, commands=None):
    """Load ``bundle`` (folder or ModelBundle) and build an AnneEffect for ``block``-sample blocks.

    Options left as None take the engine's defaults; ``sizes`` alone implies
    ``preset='custom'``, and ``sizes`` with another preset is an error.
    ``commands``: engine commands applied before the first sample (a sound preset).
    """
    from ..engine.anne import AnneEffect
    from ..model import load_bundle

    if isinstance(bundle, (str, os.PathLike)):
        bundle = load_bundle(bundle)
    if sizes is not None and preset not in (None, "custom"):
        raise InputError(f"sizes={list(sizes)!r}: expected only with preset='custom', found "
                         f"preset={preset!r} (which sets the sizes itself)")
    opts = {"knobs": knobs, "wet": wet, "sizes": sizes,
            "preset": "custom" if sizes is not None else preset}
    fx = AnneEffect(bundle, sample_rate=sample_rate, max_block=max(int(block), 8192),
                    **{k: v for k, v in opts.items() if v is not None})
    fx.bypass = bool(bypass)
    for cmd in commands or ():
        fx.apply(cmd)
    fx.reset()
    return fx


def render_effect(bundle, in_path, out_path, *, block=256, plot=None, progress=True,
                  subtype="FLOAT", keep_audio=False, **effect_options):
    """Render a sound file through ANNe into a WAV file (see the module doc).

    Parameters
    ----------
    bundle : str, os.PathLike or rtsynth.model.ModelBundle
        A bundle with an encoder.
    in_path : str or os.PathLike
        Any file libsndfile reads, any rate and channel count.
    out_path : str or os.PathLike or None
        The WAV to write (temporary file + rename). None: keep the audio only.
    block : int
        Samples per engine call (the result does not depend on it).
    plot : str or os.PathLike, optional
        A PNG with the input's and the output's spectrograms (channel mean).
    progress : bool
        tqdm bar for inputs of 20 s or more.
    subtype : {'FLOAT', 'PCM_24'}
    keep_audio : bool
    **effect_options
        knobs, preset, sizes, wet, bypass (see :func:`build_effect`).

    Returns
    -------
    EffectRenderResult
    """
    t0 = time.perf_counter()
    block = check_block(block)
    out_path = None if out_path is None else Path(out_path)
    if out_path is not None:
        check_out(out_path, (".wav",), "out")
    plot = None if plot is None else Path(plot)
    if plot is not None:
        check_out(plot, (".png",), "plot")
    from ..model import load_bundle

    if isinstance(bundle, (str, os.PathLike)):
        bundle = load_bundle(bundle)
    with open_audio(in_path) as f:
        rate, channels, frames = f.samplerate, f.channels, f.frames
        # one engine per channel: a stereo file keeps its image
        fx = [build_effect(bundle, sample_rate=rate, block=block, **effect_options)
              for _ in range(channels)]
        keep = ([], []) if (keep_audio or plot is not None) else None  # inputs, outputs
        with wav_writer(out_path, rate, channels, subtype) as writer:
            peak = _run(f, fx, block, writer, keep, progress)
    audio = np.concatenate(keep[1]) if keep else None
    if plot is not None:
        from .plot import write_spectrograms

        before = np.concatenate(keep[0]).mean(axis=1)
        write_spectrograms([(before, f"input: {Path(in_path).name}"),
                            (audio.mean(axis=1), f"through ANNe ({bundle.manifest.name})")],
                           rate, plot)
    return EffectRenderResult(out_path, rate, frames, channels, fx[0].latency_samples,
                              bundle.manifest.sample_rate, sum(e.nonfinite_input for e in fx),
                              peak, plot, time.perf_counter() - t0, audio if keep_audio else None)


def _run(f, fx, block, writer, keep, progress):
    """Stream ``f`` through the engines, dropping the first ``latency`` outputs and flushing
    as many; returns the output peak."""
    frames, channels, rate = f.frames, f.channels, f.samplerate
    skip = fx[0].latency_samples
    x = np.zeros((block, channels))
    y = np.zeros((block, channels))
    col_in, col_out = np.zeros(block), np.zeros(block)
    bar = progress_bar(frames / rate) if progress else None
    written, fed, peak = 0, 0, 0.0
    try:
        while written < frames:
            interruption_point()  # Ctrl-C under deferred_sigint stops here, between blocks
            n = f.read(block, dtype="float64", always_2d=True, out=x).shape[0] if fed < frames else 0
            x[n:] = 0.0  # past the end: silence flushes the effect's tail
            fed += n
            if keep is not None and n:
                keep[0].append(x[:n].copy())
            for c, eff in enumerate(fx):
                col_in[:] = x[:, c]
                y[:, c] = eff.process(col_in, out=col_out)
            out = y[min(skip, block):]
            skip -= block - out.shape[0]
            out = out[:frames - written]
            if out.shape[0]:
                peak = max(peak, float(np.max(np.abs(out))))
                if writer is not None:
                    writer.write(out)
                if keep is not None:
                    keep[1].append(out.copy())
                written += out.shape[0]
            if bar is not None and (fed // block) % 64 == 0:
                bar.n = round(fed / rate, 1)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    return peak
