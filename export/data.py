"""Training data for :mod:`export.train`: corpus splits -> encoder features.

A corpus folder (``export/corpus/canne/5oct``...) holds
``frames_{train,valid,test}.npy``: float32 magnitude frames, each divided by
its own max (``export/corpus.py``). The encoder input is computed once per
split with :func:`rtsynth.dsp.frame_features` (``mag``, ``mag+diff1``,
``mag+diff2``, ``mag+diff1+diff2``), the exact function the live effect uses.

``mag+mfcc`` (thesis section 4.4, training only; no engine computes it)
appends MFCCs: a 100-band mel power spectrum in dB, a 50-point orthonormal
DCT-II, the first five coefficients dropped, the remaining 45 scaled to
[-1, 1] per coefficient with the train split's min and max. In every kind
the first ``n_bins`` feature columns are the frame itself, which is also the
reconstruction target.
"""

import json
from pathlib import Path

import numpy as np

from export.corpus import CONFIGS, SPLITS
from rtsynth.dsp import FEATURE_KINDS, frame_features

__all__ = ["INPUT_FEATURES", "MFCC_BANDS", "MFCC_KEEP", "corpus_info", "load_features",
           "mfcc_features"]

#: every input_features value :func:`load_features` accepts
INPUT_FEATURES = (*FEATURE_KINDS, "mag+mfcc")
MFCC_BANDS = 100  # mel bands (thesis 4.4)
MFCC_KEEP = (5, 50)  # DCT points kept: 50-point DCT, first five dropped


def corpus_info(corpus_dir, n_bins: int) -> dict:
    """Sample rate, n_fft and hop of a corpus folder.

    Read from the corpus ``manifest.json`` two levels up
    (``<root>/<config>/<n>oct``) when it describes this folder with the same
    ``n_bins``; otherwise inferred from ``n_bins`` (2049 -> CANNe 44.1 kHz /
    4096 / 1024, 1025 -> ANNe 22.05 kHz / 2048 / 512).

    Returns
    -------
    dict
        ``{"sample_rate": int, "n_fft": int, "hop": int}``.
    """
    d = Path(corpus_dir).resolve()
    try:
        out = json.loads((d.parent.parent / "manifest.json").read_text())["outputs"]
        e = out[f"{d.parent.name}/{d.name}"]
        if int(e["n_bins"]) == n_bins:
            return {"sample_rate": int(e["sr"]), "n_fft": int(e["n_fft"]), "hop": int(e["hop"])}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for c in CONFIGS.values():
        if c["n_fft"] // 2 + 1 == n_bins:
            return {"sample_rate": c["sr"], "n_fft": c["n_fft"], "hop": c["hop"]}
    known = sorted(c["n_fft"] // 2 + 1 for c in CONFIGS.values())
    raise ValueError(f"{corpus_dir}: n_bins={n_bins} matches no known STFT configuration "
                     f"(expected one of {known}) and no manifest describes it")


def load_features(corpus_dir, input_features: str, max_frames=None, seed: int = 0) -> dict:
    """Load the three splits of a corpus folder and compute their features.

    Parameters
    ----------
    corpus_dir : path-like
        Folder with ``frames_{train,valid,test}.npy``.
    input_features : str
        One of :data:`INPUT_FEATURES`.
    max_frames : int, optional
        Keep a seeded random subset of this many train frames (in corpus order).
    seed : int
        Seed of that subset.

    Returns
    -------
    dict
        ``{"train": X, "valid": X, "test": X}``, float32 C-contiguous arrays of
        shape (n_frames, n_features); ``X[:, :n_bins]`` is the frame.
    """
    if input_features not in INPUT_FEATURES:
        raise ValueError(f"input_features={input_features!r}: expected one of "
                         f"{', '.join(INPUT_FEATURES)}")
    d = Path(corpus_dir)
    frames = {}
    for split in SPLITS:
        path = d / f"frames_{split}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; build the corpus with "
                                    f"`python -m export.corpus` (export/README.md)")
        f = np.load(path, mmap_mode="r")
        if split == "train" and max_frames is not None and max_frames < len(f):
            keep = np.sort(np.random.default_rng([seed, 7]).choice(len(f), max_frames, False))
            f = f[keep]
        frames[split] = np.ascontiguousarray(f, dtype=np.float32)
        if len(frames[split]) == 0:
            raise ValueError(f"{path}: no frames")
    if input_features != "mag+mfcc":
        return {s: frame_features(f, input_features) for s, f in frames.items()}
    info = corpus_info(d, frames["train"].shape[1])
    mf = {s: mfcc_features(f, info["sample_rate"], info["n_fft"]) for s, f in frames.items()}
    lo, hi = mf["train"].min(axis=0), mf["train"].max(axis=0)
    scale = np.where(hi > lo, hi - lo, 1.0)
    return {s: np.hstack([frames[s], (2 * (mf[s] - lo) / scale - 1).astype(np.float32)])
            for s in SPLITS}


def mfcc_features(frames: np.ndarray, sample_rate: int, n_fft: int) -> np.ndarray:
    """Unscaled MFCCs 5..49 of magnitude frames (thesis 4.4), float32 (n_frames, 45)."""
    import librosa  # only this optional feature needs it
    from scipy.fft import dct

    mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=MFCC_BANDS).astype(np.float32)
    out = np.empty((len(frames), MFCC_KEEP[1] - MFCC_KEEP[0]), np.float32)
    for i in range(0, len(frames), 8192):  # chunks bound the temporary memory
        power = frames[i:i + 8192].astype(np.float32) ** 2 @ mel.T
        db = 10 * np.log10(np.maximum(power, 1e-10))
        out[i:i + 8192] = dct(db, type=2, norm="ortho", axis=1)[:, MFCC_KEEP[0]:MFCC_KEEP[1]]
    return out
