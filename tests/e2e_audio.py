"""What the live end-to-end tests share: the knob sweep they play, the JACK callback
that plays a schedule and records, and the measures they take of the recording."""

import numpy as np

import jackutil

__all__ = ["hz", "cents", "spectrum", "f0", "steady_f0", "centroid", "timed", "knob_sweep", "play_and_record"]


def hz(note):
    """Frequency of MIDI ``note`` (A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def cents(f, ref):
    return 1200.0 * np.log2(f / ref)


def spectrum(x, n_fft=8192):
    """Magnitude spectrum of the first ``n_fft`` samples of ``x`` (Hann window)."""
    return np.abs(np.fft.rfft(x[:n_fft] * np.hanning(n_fft)))


def f0(x, rate, n_fft=8192):
    """rtsynth's own pitch tracker on ``x`` (Hz)."""
    from rtsynth.dsp import F0Estimator

    return F0Estimator(n_fft, rate).estimate(spectrum(x, n_fft))


def steady_f0(x, rate, win=0.25, step=0.1):
    """The pitch (Hz) of a held note in ``x``: the median of :func:`f0` over ``win``-second
    windows every ``step`` s, or 0 when fewer than half of them find one. A live recording
    on a loaded machine can lose a period or two to xruns; a window holding such a gap
    finds no pitch (or a wrong one) and is outvoted instead of failing the note."""
    n, hop = int(win * rate), int(step * rate)
    found = [f0(x[i:i + n], rate) for i in range(0, max(1, len(x) - n + 1), hop)]
    good = [p for p in found if p > 0]
    return float(np.median(good)) if 2 * len(good) >= len(found) else 0.0


def centroid(x, rate, n_fft=8192):
    """Spectral centroid of ``x`` (Hz)."""
    mag = spectrum(x, n_fft)
    f = np.fft.rfftfreq(n_fft, 1 / rate)
    return float(np.sum(f * mag) / np.sum(mag))


def timed(x, rate):
    """``(seg, rms)`` of the recording ``x``: ``seg(a, b)`` its samples from ``a`` to ``b``
    seconds, ``rms(a, b)`` their RMS."""

    def seg(a, b):
        return x[int(a * rate):int(b * rate)]

    def rms(a, b):
        return float(np.sqrt(np.mean(seg(a, b) ** 2)))

    return seg, rms


def knob_sweep(start, seconds, steps, rate):
    """[(frame, bytes)]: every knob CC 21-28 over ``seconds`` from ``start`` (s) in
    ``steps`` + 1 steps: CC 21 (latent 0) down to 0, CC 28 (latent 7) up to 127,
    CC 22-27 up and back to 0, so the sweep ends on timbre 7 (darker). The final
    values go out again 50, 100 and 150 ms later: JACK MIDI lives one cycle, so a
    cycle the synth misses on a loaded machine loses its CCs, and the sweep must
    still end where it says (the spectrum check reads the end state)."""
    ev = []
    for i in range(steps + 1):
        t, frac = int((start + seconds * i / steps) * rate), i / steps
        ev.append((t, bytes([0xB0, 21, int(round(127 * (1 - frac)))])))
        ev.append((t, bytes([0xB0, 28, int(round(127 * frac))])))
        for cc in range(22, 28):
            ev.append((t, bytes([0xB0, cc, int(round(60 * (1 - abs(1 - 2 * frac))))])))
    end = ev[-8:]
    for delay in (0.05, 0.1, 0.15):
        ev += [(t + int(delay * rate), msg) for t, msg in end]
    return ev


def play_and_record(midi_out, audio_in, schedule, rec, state):
    """A JACK process callback: once ``state["armed"]``, writes the ``schedule``'s events
    due in each period to ``midi_out`` and records ``audio_in`` into ``rec``
    (``state["pos"]``: samples so far; ``state["i"]``: next event)."""

    def process(frames):
        midi_out.clear_buffer()
        if not state["armed"]:
            return
        pos = state["pos"]
        state["i"] = jackutil.write_due_midi(midi_out, schedule, state["i"], pos, frames)
        n = min(frames, rec.size - pos)
        if n > 0:
            rec[pos:pos + n] = audio_in.get_array()[:n]
        state["pos"] = pos + frames

    return process
