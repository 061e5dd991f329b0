"""Test signals generated in code (no audio files in the test suite)."""

import numpy as np

__all__ = ["tone_with_fades", "chord_with_vibrato", "chirp", "dc_and_rumble"]


def _fade(n, sr, seconds):
    k = max(1, int(seconds * sr))
    env = np.ones(n)
    ramp = np.linspace(0.0, 1.0, k)
    env[:k] *= ramp
    env[-k:] *= ramp[::-1]
    return env


def tone_with_fades(sr=44100, seconds=3.0, freq=440.0):
    """A sine with 0.5 s linear fade-in and fade-out, peak 0.8."""
    t = np.arange(int(sr * seconds)) / sr
    return 0.8 * np.sin(2 * np.pi * freq * t) * _fade(t.size, sr, 0.5)


def chord_with_vibrato(sr=44100, seconds=3.0, freqs=(261.63, 329.63, 392.0), rate=5.0, cents=30):
    """A major triad of sines with 5 Hz vibrato (+-30 cents), faded, peak about 0.8."""
    t = np.arange(int(sr * seconds)) / sr
    x = np.zeros_like(t)
    for i, f in enumerate(freqs):
        inst = f * 2 ** (cents / 1200 * np.sin(2 * np.pi * rate * t + i))
        x += np.sin(2 * np.pi * np.cumsum(inst) / sr)
    return 0.8 * x / len(freqs) * _fade(t.size, sr, 0.1)


def chirp(sr=44100, seconds=3.0, f0=100.0, f1=4000.0):
    """An exponential sine sweep from f0 to f1, faded."""
    t = np.arange(int(sr * seconds)) / sr
    k = np.log(f1 / f0) / seconds
    return 0.8 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k) * _fade(t.size, sr, 0.1)


def dc_and_rumble(x, sr=44100, dc=0.05, rumble_hz=15.0, rumble_db=-20.0):
    """Add a DC offset and a sub-30 Hz sine, as real recordings carry."""
    t = np.arange(x.size) / sr
    return x + dc + 10 ** (rumble_db / 20) * np.sin(2 * np.pi * rumble_hz * t)
