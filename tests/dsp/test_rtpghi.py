import time
import tracemalloc

import numpy as np
import pytest

from rtsynth.dsp import RTPGHI, RandomPhase, ThesisPhase, istft, spectral_convergence, stft
from rtsynth.errors import InputError
from signals import chirp, chord_with_vibrato, dc_and_rumble, tone_with_fades


def reconstruct(x, n_fft, hop, method):
    """Magnitude-only reconstruction of x, frame by frame through ``method``."""
    S = np.abs(stft(x, n_fft, hop))
    C = np.zeros(S.shape, complex)
    k = method.latency_frames
    for i in range(S.shape[0]):
        c = method.process(S[i])
        if i >= k:
            C[i - k] = c
    if k:
        C[-1] = method.flush()
    y = istft(C, n_fft, hop, length=x.size)
    return y, spectral_convergence(S, np.abs(stft(y, n_fft, hop)))


@pytest.mark.parametrize("signal", [tone_with_fades, chord_with_vibrato, chirp])
@pytest.mark.parametrize("lookahead", [0, 1])
def test_tones_chords_chirps_reconstruct_at_4096_256(signal, lookahead):
    x = signal()
    _, sc = reconstruct(x, 4096, 256, RTPGHI(4096, 256, lookahead=lookahead))
    assert sc <= -25.0


def test_dc_offset_and_rumble_do_not_break_reconstruction():
    x = dc_and_rumble(chord_with_vibrato())
    _, sc = reconstruct(x, 4096, 256, RTPGHI(4096, 256))
    assert sc <= -25.0


def test_rtpghi_beats_the_thesis_and_random_phase():
    x = chord_with_vibrato(seconds=2.0)
    _, sc_rtpghi = reconstruct(x, 4096, 1024, RTPGHI(4096, 1024))
    _, sc_thesis = reconstruct(x, 4096, 1024, ThesisPhase(4096, 1024))
    _, sc_random = reconstruct(x, 4096, 1024, RandomPhase(4096, 1024))
    assert sc_rtpghi < sc_thesis - 10 and sc_rtpghi < sc_random - 10


def test_magnitude_is_kept_exactly(rng):
    ph = RTPGHI(1024, 256)
    for _ in range(5):
        mag = rng.uniform(0, 3, 513)
        np.testing.assert_allclose(np.abs(ph.process(mag)), mag, rtol=1e-6)


def test_silence_gives_silence():
    ph = RTPGHI(4096, 1024)
    for _ in range(4):
        c = ph.process(np.zeros(2049))
        assert np.all(c == 0)


def test_single_nonzero_bin():
    ph = RTPGHI(4096, 1024)
    mag = np.zeros(2049)
    mag[100] = 1.0
    for _ in range(4):
        c = ph.process(mag)
        assert np.all(np.isfinite(c))
        np.testing.assert_allclose(np.abs(c), mag, atol=1e-7)


def test_dc_and_nyquist_coefficients_are_real():
    ph = RTPGHI(1024, 256)
    for i in range(6):
        c = ph.process(np.full(513, 1.0 + i))
        assert abs(c[0].imag) < 1e-6 and abs(c[-1].imag) < 1e-6


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1.0])
def test_nonfinite_or_negative_input_is_a_clear_value_error(bad):
    mag = np.ones(513)
    mag[7] = bad
    with pytest.raises(ValueError, match=r"mag\[7\]=.*expected finite non-negative magnitudes; "
                                         r"found 1 bad value\(s\) in a frame of 513 bins"):
        RTPGHI(1024, 256).process(mag)


def test_nonfinite_can_be_zeroed_for_the_audio_thread():
    ph = RTPGHI(1024, 256, on_nonfinite="zero")
    mag = np.ones(513)
    mag[[3, 9]] = [np.nan, np.inf]
    c = ph.process(mag)
    assert np.all(np.isfinite(c)) and c[3] == 0 and c[9] == 0
    assert ph.nonfinite_count == 2


def test_wrong_frame_length_names_expected_and_found():
    with pytest.raises(ValueError, match=r"mag.shape=\(2048,\): RTPGHI\(n_fft=4096\) expects one "
                                         r"magnitude frame of 2049 bins"):
        RTPGHI(4096, 1024).process(np.ones(2048))


@pytest.mark.parametrize("kwargs,match", [
    ({"lookahead": 2}, r"lookahead=2: expected 0 \(causal\) or 1"),
    ({"tol": 0.0}, r"tol=0.0: expected a relative tolerance in \(0, 1\)"),
    ({"on_nonfinite": "ignore"}, r"on_nonfinite='ignore': expected 'raise' or 'zero'"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        RTPGHI(1024, 256, **kwargs)


def test_lookahead_returns_frame_n_one_call_later(rng):
    ph = RTPGHI(1024, 256, lookahead=1)
    assert ph.latency_frames == 1
    frames = rng.uniform(0.1, 1.0, (5, 513))
    first = ph.process(frames[0])
    assert np.all(first == 0)
    for n in range(1, 5):
        np.testing.assert_allclose(np.abs(ph.process(frames[n])), frames[n - 1], rtol=1e-6)
    np.testing.assert_allclose(np.abs(ph.flush()), frames[4], rtol=1e-6)


def test_same_seed_same_output_and_reset_repeats(rng):
    frames = rng.uniform(0.0, 1.0, (6, 513)) ** 8  # many bins under tolerance -> random phases
    a, b = RTPGHI(1024, 256, seed=3), RTPGHI(1024, 256, seed=3)
    out_a = [a.process(f).copy() for f in frames]
    out_b = [b.process(f).copy() for f in frames]
    np.testing.assert_array_equal(out_a, out_b)
    a.reset()
    np.testing.assert_array_equal([a.process(f).copy() for f in frames], out_a)


def test_process_writes_into_out_and_returns_it(rng):
    ph = RTPGHI(1024, 256)
    out = np.empty(513, complex)
    assert ph.process(rng.uniform(0, 1, 513), out=out) is out


def test_process_with_out_does_not_allocate(rng):
    ph = RTPGHI(4096, 1024)
    frames = rng.uniform(0, 1, (50, 2049))
    out = np.empty(2049, complex)
    for f in frames[:5]:
        ph.process(f, out=out)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(20):
        for f in frames:
            ph.process(f, out=out)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    assert grown < 4096  # bytes; tracemalloc's own bookkeeping only


def test_first_call_is_already_compiled():
    ph = RTPGHI(4096, 1024)
    t = time.perf_counter()
    ph.process(np.ones(2049))
    assert time.perf_counter() - t < 0.05  # generous: compiling would take seconds


def test_baselines_share_the_interface(rng):
    for method in (ThesisPhase(1024, 256), RandomPhase(1024, 256, seed=1)):
        out = np.empty(513, complex)
        mag = rng.uniform(0, 1, 513)
        assert method.process(mag, out=out) is out
        np.testing.assert_allclose(np.abs(out), mag, rtol=1e-9)
        with pytest.raises(InputError, match=r"expects one magnitude frame of 513 bins"):
            method.process(np.ones(10))


@pytest.mark.parametrize("lookahead", [0, 1])
def test_prefill_gives_the_steady_sound_from_the_first_sample(lookahead):
    from rtsynth.dsp import OverlapAdd
    n_fft, hop = 4096, 256
    x = tone_with_fades(seconds=2.0)
    mag = np.abs(stft(x, n_fft, hop))[150]  # one steady frame of the tone
    ph = RTPGHI(n_fft, hop, lookahead=lookahead)
    pre = ph.prefill(mag, out=np.empty((n_fft // hop, mag.size), complex))
    ola = OverlapAdd(n_fft, hop)
    ola.process(pre)  # warm-up: its samples precede the note
    frames = np.array([ph.process(mag).copy() for _ in range(40)])
    y = ola.process(frames)
    # steady level from the first sample on: no onset transient, no fade-in
    rms = np.sqrt(np.convolve(y ** 2, np.ones(hop) / hop, mode="valid"))
    assert rms.min() > 0.9 * np.median(rms) and rms.max() < 1.1 * np.median(rms)
    Y = np.abs(stft(y, n_fft, hop))[n_fft // hop:-n_fft // hop]
    assert spectral_convergence(np.tile(mag, (Y.shape[0], 1)), Y) <= -20


def test_prefill_keeping_the_phase_redoes_the_last_frames_in_phase():
    """A spectrum that jumps is re-made ending on the phase of the last frame played;
    partials at the same frequencies then have the phases the old frames had."""
    n_fft, hop = 4096, 512
    x = tone_with_fades(seconds=2.0)
    S = np.abs(stft(x, n_fft, hop))
    ph = RTPGHI(n_fft, hop)
    played = np.array([ph.process(S[100]).copy() for _ in range(20)])
    other = S[100] * np.linspace(2.0, 0.5, S.shape[1])  # another timbre, same partials
    k = n_fft // hop + 2
    redo = ph.prefill(other, out=np.empty((k, S.shape[1]), complex), keep_phase=True)
    np.testing.assert_allclose(np.abs(redo), np.tile(other, (k, 1)), rtol=1e-12, atol=1e-12)
    loud = S[100] > 0.1 * S[100].max()
    turn = np.angle(redo[:, loud] / played[-k:, loud])
    assert np.abs(turn).max() < 0.05
    fresh = RTPGHI(n_fft, hop).prefill(other, out=np.empty((k, S.shape[1]), complex))
    assert np.abs(np.angle(fresh[:, loud] / played[-k:, loud])).max() > 1.0


def test_instances_sharing_scratch_match_separate_ones(rng):
    # a synth's voices share one working memory; interleaved, each must still get
    # exactly what it would alone
    frames = rng.uniform(0.0, 1.0, (2, 8, 2049)) ** 4
    scratch = RTPGHI.new_scratch(4096)
    shared = [RTPGHI(4096, 512, scratch=scratch) for _ in range(2)]
    alone = [RTPGHI(4096, 512) for _ in range(2)]
    for i in range(8):
        for v in range(2):
            np.testing.assert_array_equal(shared[v].process(frames[v, i]), alone[v].process(frames[v, i]))


def test_scratch_of_another_size_is_refused():
    with pytest.raises(InputError, match=r"scratch: expected RTPGHI.new_scratch\(n_fft=4096, tol=1e-05\); "
                                         r"found one for n_bins=513"):
        RTPGHI(4096, 512, scratch=RTPGHI.new_scratch(1024))
    with pytest.raises(InputError, match=r"found a dict"):
        RTPGHI(4096, 512, scratch={})


@pytest.mark.parametrize("scale", [1e-150, 1e-30, 1e30, 1e150])
def test_output_scales_with_the_input_at_any_level(rng, scale):
    # log magnitudes are taken relative to the frame's maximum, so a frame far outside
    # float32's range is phased exactly as the same frame at unit scale
    frames = rng.uniform(0.0, 1.0, (6, 2049)) ** 3
    a, b = RTPGHI(4096, 512), RTPGHI(4096, 512)
    for f in frames:
        ca, cb = a.process(f), b.process(f * scale)
        np.testing.assert_allclose(cb / scale, ca, rtol=1e-9, atol=1e-12)


def test_onset_of_many_separate_partials(rng):
    # every partial of an onset frame is a separate seed: the queue empties and is
    # re-seeded once per partial (the case that needed the bucket groups)
    ph = RTPGHI(4096, 512)
    ph.process(np.zeros(2049))
    mag = np.zeros(2049)
    peaks = rng.choice(np.arange(2, 2040, 6), 200, replace=False)
    mag[peaks] = rng.uniform(1e-4, 1.0, 200)
    mag[peaks + 1] = mag[peaks] * 0.5
    for _ in range(3):  # the onset, then the same frame anchored in it
        c = ph.process(mag)
        assert np.all(np.isfinite(c))
        np.testing.assert_allclose(np.abs(c), mag, rtol=1e-8)
