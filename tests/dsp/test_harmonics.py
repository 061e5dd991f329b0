"""rtsynth.dsp.harmonics: a frame's harmonic series re-placed exactly at another pitch."""

import numpy as np
import pytest

from rtsynth.dsp import F0Estimator, hann
from rtsynth.dsp.harmonics import HarmonicPlacer, hann_lobe
from rtsynth.errors import InputError

N_FFT, SR = 4096, 44100.0
N_BINS = N_FFT // 2 + 1


def _decoder_like_frame(f0_bins, rng, n_harm=40, width=1.3, floor=1e-4):
    """Harmonics ``1/h`` as Gaussian lobes (not window-shaped, as a decoder draws them),
    each a little off the series, over a noisy floor."""
    k = np.arange(N_BINS, dtype=np.float64)
    mag = floor * (1.0 + rng.uniform(0.0, 0.5, N_BINS))
    amps = []
    for h in range(1, n_harm + 1):
        c = h * f0_bins + rng.uniform(-0.1, 0.1) * f0_bins  # up to 10 % off its place
        if c > N_BINS - 3:
            break
        amps.append(1.0 / h)
        mag = np.maximum(mag, amps[-1] * np.exp(-0.5 * ((k - c) / width) ** 2))
    return mag, np.array(amps)


def test_hann_lobe_is_the_window_spectrum():
    # a sinusoid between bins, under the periodic Hann window, against the formula
    n, pos = 1024, 100.3
    mag = np.abs(np.fft.rfft(hann(n) * np.cos(2 * np.pi * pos * np.arange(n) / n)))
    peak = mag.max() / hann_lobe(100 - pos)
    for j in range(99, 103):  # the main lobe (|d| < 2); sidelobes are not drawn
        assert mag[j] / peak == pytest.approx(hann_lobe(j - pos), abs=2e-3)
    assert hann_lobe(0) == 1.0 and hann_lobe(1) == 0.5 and hann_lobe(2) == 0.0


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.8909, 1.0, 2.0, 4.0])
def test_rendered_series_sits_exactly_on_the_new_pitch(rng, ratio):
    f0_bins = 24.0  # ~258 Hz at 44.1 kHz / 4096, as the shipped CANNe decodes
    mag, amps = _decoder_like_frame(f0_bins, rng)
    placer = HarmonicPlacer(N_BINS)
    assert placer.analyze(mag, f0_bins) >= 10
    out = np.zeros(N_BINS)
    assert placer.render(ratio, out) is out
    f0 = F0Estimator(N_FFT, SR, fmin=20.0).estimate(out)
    cents = 1200 * np.log2(f0 / (f0_bins * ratio * SR / N_FFT))
    assert abs(cents) < 0.5
    # each harmonic keeps its energy (the drawn lobe's, within the main lobe's reach)
    for h in (1, 2, 5):
        c = h * f0_bins * ratio
        if c + 3 >= N_BINS:
            continue
        src = slice(int(h * f0_bins - 0.4 * f0_bins), int(h * f0_bins + 0.4 * f0_bins))
        dst = slice(int(c - 2), int(c + 3))
        gain_db = 10 * np.log10(np.sum(out[dst] ** 2) / np.sum(mag[src] ** 2))
        assert gain_db == pytest.approx(0.0, abs=1.0)


def test_floor_is_kept_between_harmonics_and_energy_preserved(rng):
    f0_bins = 24.0
    mag, _ = _decoder_like_frame(f0_bins, rng, floor=1e-2)
    placer = HarmonicPlacer(N_BINS)
    placer.analyze(mag, f0_bins)
    out = placer.render(1.0, np.zeros(N_BINS))
    valleys = [int((h + 0.5) * f0_bins) for h in range(1, 30)]
    assert np.all(out[valleys] >= 0.9e-2) and np.all(out[valleys] <= 1.6e-2)
    assert np.sum(out ** 2) / np.sum(mag ** 2) == pytest.approx(1.0, abs=0.1)


def test_unresolved_or_absent_pitch_renders_the_floor_only(rng):
    mag = rng.uniform(0.0, 1.0, N_BINS)
    placer = HarmonicPlacer(N_BINS)
    assert placer.analyze(mag, 1.5) == 0  # under 2 bins: harmonics not resolved
    out = placer.render(1.0, np.zeros(N_BINS))
    np.testing.assert_allclose(out, mag)
    out = placer.render(2.0, np.zeros(N_BINS))  # the floor stretched: bin j reads j / 2
    np.testing.assert_allclose(out[:200:2], mag[:100])


def test_bad_arguments_are_one_sentence():
    placer = HarmonicPlacer(N_BINS)
    with pytest.raises(InputError, match=r"mag.shape=\(10,\): expected \(2049,\)"):
        placer.analyze(np.zeros(10), 20.0)
    with pytest.raises(InputError, match=r"ratio=0.0: expected a finite ratio > 0"):
        placer.render(0.0, np.zeros(N_BINS))
    with pytest.raises(InputError, match=r"out.shape=\(3,\): expected \(2049,\)"):
        placer.render(1.0, np.zeros(3))
    with pytest.raises(InputError, match=r"n_bins=4: expected a frame of at least 8 bins"):
        HarmonicPlacer(4)
