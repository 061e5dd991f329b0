"""Build the CANNe/ANNe training corpus: C-major scales over synthesizer patches.

Mirrors the thesis corpus (section 4.2): five-octave C-major scales from C2 and
one-octave scales from C4, played on every patch, split *by patch* 70/5/5 into
train/valid/test so no patch is heard in two splits. Frames are magnitude STFTs,
each divided by its own max, for CANNe (44.1 kHz, n_fft 4096, hop 1024) and
ANNe (22.05 kHz, n_fft 2048, hop 512).

Usage (from the repository root)::

    python -m export.corpus --out export/corpus --patches 80 --seed 0
"""

import argparse
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import get_window
from tqdm import tqdm

from export.synth import Patch, random_patch, render_scale

__all__ = ["CONFIGS", "THESIS_CONFIGS", "OCTAVE_STARTS", "SPLITS", "build_corpus",
           "frames_from_audio", "main", "make_patches", "scale_notes", "split_patches"]

CONFIGS = {"canne": {"sr": 44100, "n_fft": 4096, "hop": 1024},
           "anne": {"sr": 22050, "n_fft": 2048, "hop": 512},
           # not in the thesis: the low-latency effect (issue 5), 1022 samples = 21 ms of STFT
           "anne48": {"sr": 48000, "n_fft": 1024, "hop": 256}}
THESIS_CONFIGS = ("canne", "anne")  # the default; anne48 on request (--configs anne48)
OCTAVE_STARTS = {5: "C2", 1: "C4"}  # the thesis' two corpora
SPLITS = ("train", "valid", "test")
SILENCE = 1e-6  # frames quieter than this fraction of the scale's loudest bin are dropped
FORMAT_VERSION = 1
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def make_patches(n: int, seed: int) -> list[Patch]:
    """``n`` patches drawn from one generator seeded with ``seed`` (list of Patch)."""
    rng = np.random.default_rng([seed, 0])
    return [random_patch(rng) for _ in range(n)]


def split_patches(n: int, seed: int) -> dict[str, list[int]]:
    """Assign patch indices 0..n-1 to train/valid/test by a seeded permutation.

    Valid and test each get ``round(n / 16)`` patches (at least 1), train the
    rest: 70/5/5 for 80 patches, as in the thesis.

    Returns
    -------
    dict
        ``{"train": [...], "valid": [...], "test": [...]}``, each sorted, disjoint.
    """
    if n < 3:
        raise ValueError(f"need at least 3 patches for three splits, got {n}")
    k = max(1, int(round(n * 0.0625)))
    perm = np.random.default_rng([seed, 1]).permutation(n)
    parts = {"valid": perm[:k], "test": perm[k:2 * k], "train": perm[2 * k:]}
    return {s: sorted(int(i) for i in parts[s]) for s in SPLITS}


def scale_notes(octaves: int, start: str = "C2") -> list[int]:
    """MIDI notes of a rising C-major scale over ``octaves`` octaves, top C included.

    ``start`` is a C in scientific pitch notation (C4 = MIDI 60). Five octaves
    from C2 give 36 notes (36..96); one octave from C4 gives 8 (60..72).
    """
    if start[0] not in _PITCH or start[0] != "C":
        raise ValueError(f"a C-major scale starts on a C, got {start!r}")
    root = 12 * (int(start[1:]) + 1) + _PITCH[start[0]]
    return [root + 12 * o + i for o in range(octaves) for i in _MAJOR] + [root + 12 * octaves]


def frames_from_audio(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Magnitude STFT frames, each normalised to max 1, silent frames dropped.

    Hann (periodic) window, frames centred on ``t * hop`` with ``n_fft // 2``
    zeros padded at both ends (librosa ``center=True``, constant padding).

    Parameters
    ----------
    audio : numpy.ndarray
        Shape (n_samples,).
    n_fft, hop : int
        Frame length and hop (samples).

    Returns
    -------
    numpy.ndarray
        float32, shape (n_frames, n_fft // 2 + 1), values in [0, 1], every row's max 1.
    """
    x = np.pad(np.asarray(audio, np.float64), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    mag = np.abs(np.fft.rfft(frames * get_window("hann", n_fft), axis=1))
    peak = mag.max(axis=1)
    keep = peak > SILENCE * peak.max() if peak.size and peak.max() > 0 else np.zeros(peak.size, bool)
    return (mag[keep] / peak[keep, None]).astype(np.float32)


def build_corpus(out, n_patches: int = 80, seed: int = 0, configs=THESIS_CONFIGS,
                 octaves=(5, 1), note_seconds: float = 0.7, audio_per_split: int = 3,
                 progress: bool = True) -> dict:
    """Render and write the corpus under ``out``; return the manifest.

    Writes ``out/{config}/{n}oct/frames_{split}.npy`` (float32, (n_frames, n_bins)),
    ``patch_ids_{split}.npy`` (int16, (n_frames,)), ``audio/patch_XX.wav`` for the
    first ``audio_per_split`` patches of each split, and ``out/manifest.json``.
    A (config, octaves) already written for the same seed, patches and note
    length is skipped, so an interrupted build resumes where it stopped.
    """
    out = Path(out)
    patches, splits = make_patches(n_patches, seed), split_patches(n_patches, seed)
    ident = {"format_version": FORMAT_VERSION, "seed": seed, "n_patches": n_patches,
             "note_seconds": note_seconds, "splits": splits,
             "patches": [asdict(p) for p in patches]}
    old = _read_json(out / "manifest.json")
    manifest = {**ident, "outputs": old.get("outputs", {}) if _same(old, ident) else {}}
    for cfg in configs:
        c = CONFIGS[cfg]
        for octs in octaves:
            key, d = f"{cfg}/{octs}oct", out / cfg / f"{octs}oct"
            if key in manifest["outputs"] and _outputs_exist(d):
                continue
            notes = scale_notes(octs, OCTAVE_STARTS[octs])
            entry = {**c, "n_bins": c["n_fft"] // 2 + 1, "notes_midi": notes,
                     "frame_normalization": "max", "window": "hann", "frames": {}}
            bar = tqdm(total=n_patches, desc=key, unit="patch", disable=not progress)
            for split in SPLITS:
                chunks, ids = [], []
                for rank, pid in enumerate(splits[split]):
                    rng = np.random.default_rng([seed, 2, pid, c["sr"], octs])
                    audio = render_scale(patches[pid], notes, c["sr"], note_seconds, rng)
                    f = frames_from_audio(audio, c["n_fft"], c["hop"])
                    chunks.append(f)
                    ids.append(np.full(len(f), pid, np.int16))
                    if rank < audio_per_split:
                        _atomic(d / "audio" / f"patch_{pid:02d}.wav",
                                lambda fh, a=audio, sr=c["sr"]: sf.write(fh, a, sr, "PCM_16", format="WAV"))
                    bar.update()
                frames = np.concatenate(chunks) if chunks else np.zeros((0, entry["n_bins"]), np.float32)
                _atomic(d / f"frames_{split}.npy", lambda fh, a=frames: np.save(fh, a))
                _atomic(d / f"patch_ids_{split}.npy", lambda fh, a=np.concatenate(ids): np.save(fh, a))
                entry["frames"][split] = int(len(frames))
            bar.close()
            manifest["outputs"][key] = entry
            _atomic(out / "manifest.json",
                    lambda fh, m=manifest: fh.write(json.dumps(m, indent=1).encode()))
    return manifest


def main(argv=None) -> int:
    """Command-line entry: ``python -m export.corpus [--quick] ...``."""
    ap = argparse.ArgumentParser(prog="python -m export.corpus", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="export/corpus", help="output folder (default export/corpus)")
    ap.add_argument("--patches", type=int, default=80, help="number of patches (default 80)")
    ap.add_argument("--seed", type=int, default=0, help="seed for patches, splits and noise")
    ap.add_argument("--octaves", type=int, choices=sorted(OCTAVE_STARTS), action="append",
                    help="5 (C2..C7) and/or 1 (C4..C5); default both")
    ap.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(THESIS_CONFIGS))
    ap.add_argument("--note-seconds", type=float, default=0.7, help="slot per note (s)")
    ap.add_argument("--quick", action="store_true", help="6 patches, one octave, 0.25 s notes")
    a = ap.parse_args(argv)
    octaves = tuple(a.octaves or (5, 1))
    if a.quick:
        a.patches, octaves, a.note_seconds = 6, (1,), 0.25
    m = build_corpus(a.out, a.patches, a.seed, a.configs, octaves, a.note_seconds)
    for key, e in m["outputs"].items():
        print(f"{key}: " + ", ".join(f"{s} {n} frames" for s, n in e["frames"].items()))
    return 0


# --------------------------------------------------------------------------- helpers


def _same(old: dict, ident: dict) -> bool:
    return all(old.get(k) == v for k, v in ident.items())


def _outputs_exist(d: Path) -> bool:
    return all((d / f"{kind}_{s}.npy").is_file() for s in SPLITS for kind in ("frames", "patch_ids"))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _atomic(path: Path, write) -> None:
    # Write beside the target, then rename: a killed build never leaves a half file
    # under the final name, which is what makes resuming safe.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


if __name__ == "__main__":
    raise SystemExit(main())
