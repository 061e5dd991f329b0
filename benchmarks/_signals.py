"""Test signals for the rtsynth benchmarks.

Every signal function takes a sample rate and returns a tuple
``(name, category, audio, sr)`` where ``audio`` is mono float64 normalised to
a peak of 0.9 and ``category`` is one of ``"synthetic"``, ``"speech"`` or
``"music"``.

Synthetic signals are generated directly at the requested rate. "Real"
signals are rendered by external tools -- espeak-ng for speech, fluidsynth with
the FluidR3_GM SoundFont for instrument notes -- cached as WAV files under
``benchmarks/cache/`` and resampled with soxr. When a tool is missing and its
renders are not cached, those signals are skipped and the omission is reported,
so a benchmark can still run on the synthetic set.

Real recordings carry DC offset and sub-30 Hz rumble; one variant per category
(``*+dc-rumble``) adds both so that phase reconstruction is measured on them
rather than on idealised audio only.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

__all__ = [
    "CACHE_DIR",
    "SF2_PATH",
    "Signal",
    "Omission",
    "normalise",
    "add_dc_rumble",
    "synthetic_signals",
    "speech_signals",
    "music_signals",
    "all_signals",
    "quick_signals",
]

CACHE_DIR = Path(__file__).resolve().parent / "cache"
SF2_PATH = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DURATION = 4.0
PEAK = 0.9
RENDER_SR = 44100

# (name, category, audio, sr)
Signal = tuple[str, str, np.ndarray, int]


@dataclass
class Omission:
    """A group of signals that could not be produced, and why."""

    category: str
    missing: str
    reason: str

    def as_dict(self) -> dict:
        return {"category": self.category, "missing": self.missing, "reason": self.reason}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def normalise(x: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """Scale ``x`` to the given absolute peak (float64 copy)."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(np.abs(x))
    return x * (peak / m) if m > 0 else x.copy()


def add_dc_rumble(x: np.ndarray, sr: int, dc: float = 0.05, rumble_hz: float = 15.0,
                  rumble_db: float = -20.0) -> np.ndarray:
    """Add a DC offset and a sub-30 Hz sine, then renormalise.

    Mimics a cheap recording chain (an offset converter and mechanical rumble):
    the low bins then hold a large, slowly-varying component that a phase
    reconstruction must handle rather than ignore.
    """
    t = np.arange(len(x)) / sr
    rumble = 10.0 ** (rumble_db / 20.0) * np.sin(2 * np.pi * rumble_hz * t + 0.3)
    return normalise(normalise(x) + dc + rumble)


def _t(sr: int, dur: float = DURATION) -> np.ndarray:
    return np.arange(int(round(dur * sr))) / sr


def _fade(x: np.ndarray, sr: int, fade_s: float = 0.05) -> np.ndarray:
    """Raised-cosine fade in/out so the edges don't add clicks."""
    n = min(int(fade_s * sr), len(x) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    y = x.copy()
    y[:n] *= ramp
    y[len(y) - n:] *= ramp[::-1]
    return y


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x
    return soxr.resample(x, sr_in, sr_out, quality="HQ")


def _load_mono(path: Path, sr: int, dur: float = DURATION) -> np.ndarray:
    """Read a cached render, downmix, resample to ``sr`` and cut to ``dur``."""
    x, sr_file = sf.read(str(path), dtype="float64", always_2d=True)
    x = _resample(x.mean(axis=1), sr_file, sr)
    return x[: int(round(dur * sr))]


# --------------------------------------------------------------------------
# synthetic
# --------------------------------------------------------------------------
def tone(sr: int) -> Signal:
    """440 Hz sine with fades: the easiest case for phase integration."""
    t = _t(sr)
    return "tone", "synthetic", normalise(_fade(np.sin(2 * np.pi * 440.0 * t), sr)), sr


def _chord(sr: int) -> np.ndarray:
    t = _t(sr)
    vib = 0.006 * np.sin(2 * np.pi * 5.5 * t)  # ~10 cents of 5.5 Hz vibrato
    x = np.zeros_like(t)
    for f0 in (261.63, 329.63, 392.00):  # C major triad
        phase = 2 * np.pi * np.cumsum(f0 * (1 + vib)) / sr
        for k in range(1, 6):  # a few decaying harmonics
            if k * f0 < 0.45 * sr:
                x += np.sin(k * phase) / k
    return _fade(x, sr)


def chord_vibrato(sr: int) -> Signal:
    """C-major triad of harmonic tones with 5.5 Hz vibrato."""
    return "chord-vibrato", "synthetic", normalise(_chord(sr)), sr


def chord_vibrato_dc_rumble(sr: int) -> Signal:
    """The vibrato chord with DC offset and 15 Hz rumble added."""
    return "chord-vibrato+dc-rumble", "synthetic", add_dc_rumble(_chord(sr), sr), sr


def chirp_linear(sr: int) -> Signal:
    """Linear sweep 100 Hz -> 0.4*sr (fast-moving single partial)."""
    t = _t(sr)
    f0, f1 = 100.0, 0.4 * sr
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / t[-1] * t ** 2)
    return "chirp-linear", "synthetic", normalise(_fade(np.sin(phase), sr)), sr


def chirp_exp(sr: int) -> Signal:
    """Exponential sweep 30 Hz -> 0.4*sr (constant octaves per second)."""
    t = _t(sr)
    f0, f1 = 30.0, 0.4 * sr
    k = np.log(f1 / f0) / t[-1]
    phase = 2 * np.pi * f0 * (np.exp(k * t) - 1) / k
    return "chirp-exp", "synthetic", normalise(_fade(np.sin(phase), sr)), sr


def noise_bursts(sr: int) -> Signal:
    """Band-limited noise bursts of different lengths separated by silence."""
    rng = np.random.default_rng(1)
    x = np.zeros(int(DURATION * sr))
    for start, length in ((0.2, 0.05), (0.8, 0.3), (1.6, 0.1), (2.3, 0.6), (3.3, 0.02)):
        a, n = int(start * sr), int(length * sr)
        x[a:a + n] = _fade(rng.standard_normal(n), sr, fade_s=min(0.005, length / 4))
    return "noise-bursts", "synthetic", normalise(x), sr


def _kick(sr: int) -> np.ndarray:
    t = _t(sr, 0.4)
    f = 50.0 + 100.0 * np.exp(-t / 0.04)  # pitch drop 150 -> 50 Hz
    body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.15)
    click = np.zeros_like(t)
    click[: int(0.002 * sr)] = 1.0
    return body + 0.5 * click


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(sr, 0.25)
    noise = rng.standard_normal(len(t)) * np.exp(-t / 0.05)
    body = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.08)
    return 0.6 * noise + body


def _hihat(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(sr, 0.06)
    noise = np.diff(rng.standard_normal(len(t) + 1))  # first difference: bright
    return 0.4 * noise * np.exp(-t / 0.015)


def drums_synth(sr: int) -> Signal:
    """Two bars of synthetic kick / snare / hi-hat at 120 bpm."""
    rng = np.random.default_rng(2)
    x = np.zeros(int(DURATION * sr) + sr)
    eighth = 0.25
    for i in range(16):
        pos = int(i * eighth * sr)
        hits = [_hihat(sr, rng)]
        if i % 4 == 0:
            hits.append(_kick(sr))
        if i % 4 == 2:
            hits.append(_snare(sr, rng))
        for h in hits:
            x[pos:pos + len(h)] += h
    return "drums-synth", "synthetic", normalise(x[: int(DURATION * sr)]), sr


def white_noise(sr: int) -> Signal:
    """Full-band white noise: every bin above tolerance (speed worst case)."""
    rng = np.random.default_rng(3)
    return "white-noise", "synthetic", normalise(rng.standard_normal(int(DURATION * sr))), sr


SYNTHETIC: tuple[Callable[[int], Signal], ...] = (
    tone, chord_vibrato, chord_vibrato_dc_rumble, chirp_linear, chirp_exp,
    noise_bursts, drums_synth, white_noise,
)


def synthetic_signals(sr: int) -> list[Signal]:
    """All synthetic signals at sample rate ``sr``."""
    return [f(sr) for f in SYNTHETIC]


# --------------------------------------------------------------------------
# speech (espeak-ng)
# --------------------------------------------------------------------------
# (name, espeak voice, text): different voices so pitch and formants differ.
SENTENCES = (
    ("speech-en-us", "en-us",
     "The quick brown fox jumps over the lazy dog near the quiet river bank."),
    ("speech-en-gb-f3", "en-gb+f3",
     "She sells sea shells by the sea shore, and the shells are surely real."),
    ("speech-scotland-m3", "en-gb-scotland+m3",
     "Heavy rain is expected tonight, so please bring an umbrella tomorrow."),
)


def _render_speech(name: str, voice: str, text: str) -> Path:
    """Render one sentence with espeak-ng into the cache (once)."""
    path = CACHE_DIR / f"{name}.wav"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.wav")
        subprocess.run(["espeak-ng", "-w", str(tmp), "-v", voice, "-s", "150", text],
                       check=True, capture_output=True)
        tmp.replace(path)  # atomic: an interrupted render is never cached
    return path


def speech_signals(sr: int) -> tuple[list[Signal], list[Omission]]:
    """espeak-ng sentences plus one ``+dc-rumble`` variant."""
    cached = all((CACHE_DIR / f"{name}.wav").exists() for name, _, _ in SENTENCES)
    if not cached and shutil.which("espeak-ng") is None:
        return [], [Omission("speech", "espeak-ng", "espeak-ng not found on PATH")]
    out: list[Signal] = []
    for name, voice, text in SENTENCES:
        x = _load_mono(_render_speech(name, voice, text), sr)
        out.append((name, "speech", normalise(x), sr))
    name, _, x, _ = out[0]
    out.append((name + "+dc-rumble", "speech", add_dc_rumble(x, sr), sr))
    return out, []


# --------------------------------------------------------------------------
# music (fluidsynth + FluidR3_GM)
# --------------------------------------------------------------------------
TICKS = 480  # per quarter note; 120 bpm -> one quarter = 0.5 s

# (name, GM program (0-based), notes as (start_beats, dur_beats, pitch, velocity))
_MELODY = [(0, 1, 60, 90), (1, 1, 64, 85), (2, 1, 67, 88), (3, 0.5, 72, 95),
           (3.5, 0.5, 71, 80), (4, 1, 69, 85), (5, 2, 67, 90)]
_ARPEGGIO = [(i * 0.5, 0.5, p, 80) for i, p in enumerate([52, 55, 59, 64, 59, 55, 52, 57,
                                                          60, 64, 60, 57, 55])]
_SLOW = [(0, 2, 67, 80), (2, 1, 69, 85), (3, 1, 71, 85), (4, 3, 72, 90)]
_CHORDS = [(0, 4, p, 70) for p in (60, 64, 67)] + [(4, 3.5, p, 70) for p in (57, 60, 65)]
_BASS = [(0, 2, 36, 100), (2, 2, 31, 100), (4, 2, 33, 100), (6, 1.5, 29, 100)]

INSTRUMENTS = (
    ("piano", [(0, _MELODY + [(0, 4, 48, 70), (4, 3.5, 43, 70)])]),
    ("guitar-nylon", [(24, _ARPEGGIO)]),
    ("violin", [(40, _SLOW)]),
    ("strings", [(48, _CHORDS)]),
    ("flute", [(73, _MELODY)]),
    ("pad+bass", [(89, _CHORDS), (32, _BASS)]),  # warm pad + acoustic bass (~41-65 Hz)
    ("organ", [(19, _CHORDS + [(0, 7.5, 36, 80)])]),
)
# GM percussion (channel 10): 36 kick, 38 snare, 42 closed hat, 46 open hat, 49 crash
_DRUMS = ([(i * 0.5, 0.25, 42, 70) for i in range(15)]
          + [(b, 0.5, 36, 110) for b in (0, 2, 4, 5.5)]
          + [(b, 0.5, 38, 100) for b in (1, 3, 5, 7)] + [(0, 2, 49, 90), (7.5, 0.5, 46, 80)])


def _write_midi(path: Path, tracks: list[tuple[int, int, list]]) -> None:
    """Write a type-1 MIDI file; ``tracks`` = [(channel, program, notes)]."""
    import mido  # only needed when rendering, keep import cost off the quick path

    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    for channel, program, notes in tracks:
        events = []
        for start, dur, pitch, vel in notes:
            events.append((int(start * TICKS), "note_on", pitch, vel))
            events.append((int((start + dur) * TICKS), "note_off", pitch, 0))
        events.sort(key=lambda e: (e[0], e[1] == "note_on"))  # offs before ons
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
        if channel != 9:
            track.append(mido.Message("program_change", channel=channel, program=program,
                                      time=0))
        now = 0
        for tick, kind, pitch, vel in events:
            track.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel,
                                      time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))


def _render_music(name: str, tracks: list[tuple[int, int, list]]) -> Path:
    """Render a MIDI phrase with fluidsynth into the cache (once)."""
    path = CACHE_DIR / f"music-{name}.wav"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        mid = CACHE_DIR / f"music-{name}.mid"
        _write_midi(mid, tracks)
        tmp = path.with_suffix(".tmp.wav")
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(RENDER_SR),
                        "-F", str(tmp), str(SF2_PATH), str(mid)],
                       check=True, capture_output=True)
        tmp.replace(path)
    return path


def _music_missing() -> list[Omission]:
    """What prevents rendering the music signals (nothing if all are cached)."""
    names = [name for name, _ in INSTRUMENTS] + ["drums"]
    if all((CACHE_DIR / f"music-{n}.wav").exists() for n in names):
        return []
    if shutil.which("fluidsynth") is None:
        return [Omission("music", "fluidsynth", "fluidsynth not found on PATH")]
    if not SF2_PATH.exists():
        return [Omission("music", "fluid-soundfont-gm", f"{SF2_PATH} not found")]
    return []


def music_signals(sr: int) -> tuple[list[Signal], list[Omission]]:
    """fluidsynth-rendered instrument phrases plus a ``+dc-rumble`` variant."""
    missing = _music_missing()
    if missing:
        return [], missing
    out: list[Signal] = []
    for name, parts in INSTRUMENTS:
        tracks = [(ch, prog, notes) for ch, (prog, notes) in enumerate(parts)]
        x = _load_mono(_render_music(name, tracks), sr)
        out.append((name, "music", normalise(x), sr))
    x = _load_mono(_render_music("drums", [(9, 0, _DRUMS)]), sr)
    out.append(("drums", "music", normalise(x), sr))
    name, _, x, _ = out[0]
    out.append((name + "+dc-rumble", "music", add_dc_rumble(x, sr), sr))
    return out, []


# --------------------------------------------------------------------------
# collections
# --------------------------------------------------------------------------
def all_signals(sr: int) -> tuple[list[Signal], list[Omission]]:
    """Every benchmark signal at ``sr`` and the list of skipped groups."""
    speech, om_speech = speech_signals(sr)
    music, om_music = music_signals(sr)
    return synthetic_signals(sr) + speech + music, om_speech + om_music


def quick_signals(sr: int, dur: float = 1.5) -> list[Signal]:
    """Two short synthetic signals for smoke tests (no external tools)."""
    out = []
    for name, cat, x, s in (chord_vibrato(sr), white_noise(sr)):
        out.append((name, cat, x[: int(dur * s)], s))
    return out


def _list(sr: int = 44100) -> None:
    """Render (into the cache) and list every signal at ``sr``."""
    sigs, omitted = all_signals(sr)
    for o in omitted:
        print(f"{o.missing} is missing ({o.reason}): skipping {o.category} signals; "
              "`make bench-deps` installs it")
    for name, category, x, s in sigs:
        rms = float(np.sqrt(np.mean(x * x)))
        print(f"{name:26s} {category:9s} {len(x) / s:4.1f} s  sr {s}  rms {rms:.3f}"
              f"  dc {float(x.mean()):+.3f}")


if __name__ == "__main__":
    # run alone, it pre-renders the cache and lists the signals
    _list()
