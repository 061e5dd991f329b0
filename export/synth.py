"""A small virtual-analog synthesizer whose patch space resembles the MicroKORG's.

The thesis corpus (section 4.2) was C-major scales played on 80 MicroKORG
patches. That instrument is not available here, so this module stands in for
it: two band-limited oscillators (plus noise), a resonant LP/BP/HP filter with
its own envelope and key tracking, an amp ADSR, an LFO for vibrato/tremolo/
filter wobble, and chorus, feedback delay and overdrive on the whole take.
Everything is numpy/scipy and deterministic given a ``numpy.random.Generator``.
"""

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

__all__ = ["Patch", "WAVEFORMS", "random_patch", "render_note", "render_scale"]

WAVEFORMS = ("saw", "pulse", "triangle", "sine", "noise")
_FILTER_BLOCK = 64  # samples per constant-coefficient filter segment (~1.5 ms at 44.1 kHz)
_GATE_FRACTION = 0.85  # key held for this part of each note slot; the rest is the gap


@dataclass(frozen=True)
class Patch:
    """Every parameter of one synthesizer patch (units in the comments)."""

    osc1_wave: str  # one of WAVEFORMS except "noise" (osc1 carries the pitch)
    osc1_pw: float  # pulse width, fraction of the period (0.1-0.5); pulse only
    osc2_wave: str  # one of WAVEFORMS
    osc2_pw: float  # pulse width, fraction of the period (0.1-0.5); pulse only
    osc2_semitones: int  # transposition of osc2 against osc1 (semitones)
    osc2_detune_cents: float  # extra detune of osc2 (cents, 0-25)
    osc_mix: float  # 0 = osc1 only, 1 = osc2 only (linear)
    noise_level: float  # white noise added to the oscillators (linear, 0-0.15)
    filter_type: str  # "lp", "bp" or "hp" (12 dB/oct biquad)
    cutoff_hz: float  # filter cutoff at middle C with the envelope at 0 (Hz)
    resonance: float  # 0-1, mapped to Q 0.6-6.8
    key_track: float  # cutoff follows the note: 0 = fixed, 1 = fully (fraction)
    fenv_amount_oct: float  # filter envelope depth (octaves, -2..+4)
    fenv_attack_s: float  # filter envelope attack (s)
    fenv_decay_s: float  # filter envelope decay (s)
    fenv_sustain: float  # filter envelope sustain level (0-1)
    fenv_release_s: float  # filter envelope release (s)
    amp_attack_s: float  # amp envelope attack (s)
    amp_decay_s: float  # amp envelope decay (s)
    amp_sustain: float  # amp envelope sustain level (0-1, linear)
    amp_release_s: float  # amp envelope release (s)
    lfo_target: str  # "none", "pitch" (vibrato), "amp" (tremolo) or "cutoff"
    lfo_rate_hz: float  # LFO frequency (Hz)
    lfo_depth: float  # 0-1: pitch 0-40 cents, amp 0-60 %, cutoff 0-1.5 octaves
    drive: float  # overdrive input gain into tanh (1 = off)
    chorus_mix: float  # chorus wet level (0 = off)
    chorus_rate_hz: float  # chorus delay modulation rate (Hz)
    chorus_depth_ms: float  # chorus delay modulation depth (ms, around 12 ms)
    delay_mix: float  # echo wet level (0 = off)
    delay_s: float  # echo time (s)
    delay_feedback: float  # echo feedback gain (0-0.55)


def random_patch(rng: np.random.Generator) -> Patch:
    """Draw one patch from musically sensible ranges.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness; the same generator state gives the same patch.

    Returns
    -------
    Patch
    """
    u, logu = rng.uniform, (lambda lo, hi: float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
    ftype = str(rng.choice(["lp", "lp", "lp", "bp", "hp"]))
    # High-pass and band-pass patches sit lower and track the keyboard, or the
    # bottom of a five-octave scale would be filtered away to silence.
    cutoff = {"lp": logu(200, 8000), "bp": logu(300, 3000), "hp": logu(100, 1200)}[ftype]
    lfo = str(rng.choice(["none", "pitch", "pitch", "amp", "cutoff"]))
    return Patch(
        osc1_wave=str(rng.choice(WAVEFORMS[:4], p=[0.35, 0.3, 0.2, 0.15])), osc1_pw=u(0.1, 0.5),
        osc2_wave=str(rng.choice(WAVEFORMS, p=[0.3, 0.25, 0.15, 0.15, 0.15])), osc2_pw=u(0.1, 0.5),
        osc2_semitones=int(rng.choice([0, 0, 0, 0, 7, 12, -12])), osc2_detune_cents=u(0, 25),
        osc_mix=u(0, 0.7), noise_level=u(0, 0.15) if rng.random() < 0.3 else 0.0,
        filter_type=ftype, cutoff_hz=cutoff, resonance=u(0, 1),
        key_track=u(0.6, 1.0) if ftype != "lp" else u(0, 1),
        fenv_amount_oct=u(-2, 4), fenv_attack_s=logu(0.002, 0.3), fenv_decay_s=logu(0.05, 1.0),
        fenv_sustain=u(0, 1), fenv_release_s=logu(0.02, 0.4),
        amp_attack_s=logu(0.002, 0.25), amp_decay_s=logu(0.05, 1.0), amp_sustain=u(0.3, 1.0),
        amp_release_s=logu(0.02, 0.4),
        lfo_target=lfo, lfo_rate_hz=logu(0.5, 7), lfo_depth=u(0.1, 1) if lfo != "none" else 0.0,
        drive=logu(1.5, 10) if rng.random() < 0.3 else 1.0,
        chorus_mix=u(0.2, 0.5) if rng.random() < 0.35 else 0.0,
        chorus_rate_hz=logu(0.2, 2), chorus_depth_ms=u(1, 5),
        delay_mix=u(0.1, 0.4) if rng.random() < 0.35 else 0.0,
        delay_s=u(0.1, 0.45), delay_feedback=u(0.1, 0.55),
    )


def render_note(patch: Patch, midi_note: int, sr: int, duration: float,
                rng: np.random.Generator) -> np.ndarray:
    """Render one dry note (no chorus/delay/drive): oscillators, filter, amp envelope.

    Parameters
    ----------
    patch : Patch
    midi_note : int
        MIDI note number (60 = C4 = 261.6 Hz).
    sr : int
        Sample rate (Hz).
    duration : float
        Time the key is held (s); the release tail follows it.
    rng : numpy.random.Generator
        Noise and free-running oscillator/LFO phases.

    Returns
    -------
    numpy.ndarray
        float32, shape (round((duration + amp_release_s) * sr),), peak <= 1.
    """
    y = _voice(patch, midi_note, sr, duration, rng)
    peak = np.max(np.abs(y)) if y.size else 0.0
    return (y / peak if peak > 1.0 else y).astype(np.float32)


def render_scale(patch: Patch, notes, sr: int, note_seconds: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Play ``notes`` one after another, then the effects on the whole take.

    Each note is held for 85 % of its ``note_seconds`` slot (a small gap), its
    release overlapping the next slot as on a real keyboard. After the last
    slot a tail (release, echoes) of at most 1 s follows.

    Returns
    -------
    numpy.ndarray
        float32, shape (n_samples,), peak normalised to 0.9.
    """
    slot = int(round(note_seconds * sr))
    tail = min(1.0, patch.amp_release_s + (4 * patch.delay_s if patch.delay_mix else 0.0))
    out = np.zeros(slot * len(notes) + int(tail * sr) + 1)
    for i, note in enumerate(notes):
        v = _voice(patch, int(note), sr, note_seconds * _GATE_FRACTION, rng)
        v = v[: out.size - i * slot]
        out[i * slot: i * slot + v.size] += v
    out = _normalise(out)  # a fixed level into the drive makes `drive` mean the same for all patches
    if patch.drive > 1.0:
        out = np.tanh(patch.drive * out) / np.tanh(patch.drive)
    if patch.chorus_mix:
        out = _chorus(out, sr, patch.chorus_rate_hz, patch.chorus_depth_ms, patch.chorus_mix)
    if patch.delay_mix:
        out = _echo(out, sr, patch.delay_s, patch.delay_feedback, patch.delay_mix)
    return _normalise(out).astype(np.float32)


# --------------------------------------------------------------------------- helpers


def _voice(p: Patch, midi_note: int, sr: int, gate: float, rng) -> np.ndarray:
    n = int(round((gate + p.amp_release_s) * sr))
    t = np.arange(n) / sr
    f0 = 440.0 * 2.0 ** ((midi_note - 69) / 12)
    lfo = np.sin(2 * np.pi * p.lfo_rate_hz * t + rng.uniform(0, 2 * np.pi))
    cents = 40.0 * p.lfo_depth * lfo if p.lfo_target == "pitch" else 0.0
    f1 = f0 * 2.0 ** (cents / 1200) * np.ones(n)
    f2 = f1 * 2.0 ** ((p.osc2_semitones + p.osc2_detune_cents / 100) / 12)
    x = ((1 - p.osc_mix) * _osc(p.osc1_wave, f1, sr, p.osc1_pw, rng)
         + p.osc_mix * _osc(p.osc2_wave, f2, sr, p.osc2_pw, rng))
    if p.noise_level:
        x = x + p.noise_level * rng.uniform(-1, 1, n)
    # Filter cutoff per segment: base * key tracking * envelope * LFO, in octaves.
    centres = np.arange(0, n, _FILTER_BLOCK) + _FILTER_BLOCK // 2
    octs = p.key_track * (midi_note - 60) / 12 + p.fenv_amount_oct * _adsr(
        centres / sr, gate, p.fenv_attack_s, p.fenv_decay_s, p.fenv_sustain, p.fenv_release_s)
    if p.lfo_target == "cutoff":
        octs = octs + 1.5 * p.lfo_depth * lfo[np.minimum(centres, n - 1)]
    fc = np.clip(p.cutoff_hz * 2.0 ** octs, 30.0, 0.45 * sr)
    x = _biquad_segments(x, fc, 0.6 * 2.0 ** (3.5 * p.resonance), p.filter_type, sr)
    amp = _adsr(t, gate, p.amp_attack_s, p.amp_decay_s, p.amp_sustain, p.amp_release_s)
    if p.lfo_target == "amp":
        amp = amp * (1 - 0.3 * p.lfo_depth * (1 + lfo))
    return 0.5 * x * amp


def _osc(wave: str, f: np.ndarray, sr: int, pw: float, rng) -> np.ndarray:
    if wave == "noise":
        return rng.uniform(-1, 1, f.size)
    dt = f / sr  # phase increment per sample (cycles)
    ph = (rng.uniform() + np.cumsum(dt)) % 1.0
    if wave == "sine":
        return np.sin(2 * np.pi * ph)
    if wave == "saw":
        return 2 * ph - 1 - _polyblep(ph, dt)
    if wave == "pulse":
        sq = np.where(ph < pw, 1.0, -1.0) + _polyblep(ph, dt) - _polyblep((ph - pw) % 1.0, dt)
        return sq - (2 * pw - 1)  # remove the DC of an asymmetric pulse
    # Triangle: additive odd harmonics (they fall as 1/k^2, so 16 suffice) below Nyquist.
    y = np.zeros_like(ph)
    for k in range(1, 33, 2):
        if k * f.max() >= 0.45 * sr:
            break
        y += (-1) ** (k // 2) * np.sin(2 * np.pi * k * ph) / k**2
    return 8 / np.pi**2 * y


def _polyblep(ph: np.ndarray, dt: np.ndarray) -> np.ndarray:
    # Residual of a band-limited step at each phase wrap (2-sample polynomial).
    out = np.zeros_like(ph)
    lo, hi = ph < dt, ph > 1 - dt
    x = ph[lo] / dt[lo]
    out[lo] = 2 * x - x * x - 1
    x = (ph[hi] - 1) / dt[hi]
    out[hi] = x * x + 2 * x + 1
    return out


def _adsr(t: np.ndarray, gate: float, a: float, d: float, s: float, r: float) -> np.ndarray:
    def held(tt):
        rise = np.minimum(tt / a, 1.0)
        fall = s + (1 - s) * np.exp(-np.maximum(tt - a, 0.0) * 4.0 / d)
        return np.where(tt < a, rise, fall)

    x = np.clip((t - gate) / r, 0.0, 1.0)
    return np.where(t < gate, held(t), held(np.asarray(gate)) * (1 - x) ** 2)


def _biquad_segments(x, fc, q, kind, sr):
    # RBJ biquads, coefficients held for _FILTER_BLOCK samples; the state is
    # carried between segments so a moving cutoff does not click.
    w0 = 2 * np.pi * fc / sr
    c, alpha = np.cos(w0), np.sin(w0) / (2 * q)
    if kind == "lp":
        b = np.stack([(1 - c) / 2, 1 - c, (1 - c) / 2], 1)
    elif kind == "hp":
        b = np.stack([(1 + c) / 2, -(1 + c), (1 + c) / 2], 1)
    else:  # band-pass, 0 dB peak gain
        b = np.stack([alpha, np.zeros_like(c), -alpha], 1)
    a = np.stack([1 + alpha, -2 * c, 1 - alpha], 1)
    b, a = b / a[:, :1], a / a[:, :1]
    y, zi = np.empty_like(x), np.zeros(2)
    for i in range(len(fc)):
        s = slice(i * _FILTER_BLOCK, (i + 1) * _FILTER_BLOCK)
        y[s], zi = lfilter(b[i], a[i], x[s], zi=zi)
    return y


def _chorus(x, sr, rate, depth_ms, mix):
    n = np.arange(x.size)
    delay = (12.0 + depth_ms * np.sin(2 * np.pi * rate * n / sr)) * 1e-3 * sr
    wet = np.interp(n - delay, n, x, left=0.0)  # linear-interpolated fractional delay
    return (1 - 0.5 * mix) * x + mix * wet


def _echo(x, sr, delay_s, feedback, mix):
    d = max(1, int(round(delay_s * sr)))
    w = np.zeros_like(x)  # w[n] = x[n-d] + feedback * w[n-d], filled a delay length at a time
    for k in range(d, x.size, d):
        m = min(d, x.size - k)
        w[k:k + m] = x[k - d:k - d + m] + feedback * w[k - d:k - d + m]
    return x + mix * w


def _normalise(x, peak=0.9):
    m = np.max(np.abs(x)) if x.size else 0.0
    return x * (peak / m) if m > 0 else x
