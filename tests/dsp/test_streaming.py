"""Streaming analysis, overlap-add and the pair equal the whole-signal transforms."""

import numpy as np
import pytest

from rtsynth.dsp import OverlapAdd, StftProcessor, StreamingSTFT, first_frame, istft, stft
from rtsynth.errors import InputError

BLOCK_SIZES = [1, 64, 65, 256, 1000, 8193, "random"]
GEOMETRIES = [(4096, 1024), (2048, 512), (1024, 300)]


def _blocks(n, size, rng):
    """Split range(n) into consecutive (start, stop) pairs of the given size or random sizes."""
    start = 0
    while start < n:
        step = int(rng.integers(1, 3000)) if size == "random" else size
        yield start, min(n, start + step)
        start += step


@pytest.mark.parametrize("size", BLOCK_SIZES)
@pytest.mark.parametrize("n_fft,hop", GEOMETRIES)
def test_analysis_is_block_size_invariant(rng, n_fft, hop, size):
    x = rng.standard_normal(20000)
    ana = StreamingSTFT(n_fft, hop)
    frames = np.concatenate([ana.process(x[a:b]) for a, b in _blocks(x.size, size, rng)])
    ref = stft(x, n_fft, hop)
    # the stream can only emit frames whose last sample has arrived
    assert frames.shape[0] == (x.size - n_fft // 2) // hop - first_frame(n_fft, hop) + 1
    np.testing.assert_array_equal(frames, ref[:frames.shape[0]])


@pytest.mark.parametrize("size", [1, 64, 65, 256, 1000, 8193, "random"])
@pytest.mark.parametrize("n_fft,hop", GEOMETRIES)
def test_overlap_add_is_frame_grouping_invariant(rng, n_fft, hop, size):
    x = rng.standard_normal(20000)
    X = stft(x, n_fft, hop)
    ola = OverlapAdd(n_fft, hop)
    y = np.concatenate([ola.process(X[a:b]) for a, b in _blocks(X.shape[0], size, rng)])
    # output sample s holds time s + first_frame*hop - latency
    t0 = first_frame(n_fft, hop) * hop - ola.latency_samples
    ref = istft(X, n_fft, hop, length=x.size)
    got = y[-t0:-t0 + x.size]
    np.testing.assert_allclose(got, ref[:got.size], atol=1e-12)
    np.testing.assert_allclose(got[: x.size - n_fft], x[: x.size - n_fft], atol=1e-10)


@pytest.mark.parametrize("size", BLOCK_SIZES)
@pytest.mark.parametrize("n_fft,hop", GEOMETRIES)
def test_pair_reconstructs_input_delayed_by_latency(rng, n_fft, hop, size):
    x = rng.uniform(-1, 1, 20000)
    proc = StftProcessor(n_fft, hop)
    y = np.concatenate([proc.process(x[a:b]) for a, b in _blocks(x.size, size, rng)])
    d = proc.latency_samples
    assert d == n_fft - 2 <= n_fft
    assert y.size == x.size
    assert np.max(np.abs(y[d:] - x[:-d])) <= 1e-6
    assert np.max(np.abs(y[:d])) <= 1e-6


def test_pair_blocks_may_change_size_every_call(rng):
    x = rng.uniform(-1, 1, 30000)
    proc = StftProcessor(2048, 512)
    sizes = [1, 8193, 64, 65, 3, 1000, 256, 7]
    out, start, i = [], 0, 0
    while start < x.size:
        out.append(proc.process(x[start:start + sizes[i % len(sizes)]]))
        start += sizes[i % len(sizes)]
        i += 1
    y = np.concatenate(out)
    d = proc.latency_samples
    assert np.max(np.abs(y[d:] - x[:-d])) <= 1e-6


def test_frame_fn_sees_every_frame_once_in_order(rng):
    seen = []
    proc = StftProcessor(1024, 256, frame_fn=lambda n, spec: seen.append(n))
    proc.process(rng.standard_normal(5000))
    n0 = first_frame(1024, 256)
    assert seen == list(range(n0, n0 + len(seen)))
    assert len(seen) == (5000 - 512) // 256 - n0 + 1


def test_frame_fn_modifications_reach_the_output(rng):
    def mute(n, spec):
        spec[:] = 0.0

    proc = StftProcessor(1024, 256, frame_fn=mute)
    assert np.all(proc.process(rng.standard_normal(5000)) == 0.0)


def test_reset_restarts_the_stream(rng):
    x = rng.standard_normal(6000)
    proc = StftProcessor(1024, 256)
    first = proc.process(x).copy()
    proc.reset()
    np.testing.assert_array_equal(proc.process(x), first)


def test_kernels_return_out(rng):
    x = rng.standard_normal(3000)
    ana = StreamingSTFT(1024, 256)
    buf = np.empty((ana.frames_ready(x.size), 513), complex)
    assert ana.process(x, out=buf) is buf
    ola = OverlapAdd(1024, 256)
    out = np.empty(buf.shape[0] * 256)
    assert ola.process(buf, out=out) is out
    proc = StftProcessor(1024, 256)
    out = np.empty(x.size)
    assert proc.process(x, out=out) is out


def test_bad_shapes_are_clear_errors():
    with pytest.raises(InputError, match=r"block.shape=\(2, 2\): expected a 1-D block"):
        StreamingSTFT(1024, 256).process(np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"out.shape=\(1, 513\): expected \(0, 513\)"):
        StreamingSTFT(1024, 256).process(np.zeros(10), out=np.zeros((1, 513), complex))
    with pytest.raises(InputError, match=r"frames.shape=\(2, 100\): expected \(k, 513\)"):
        OverlapAdd(1024, 256).process(np.zeros((2, 100), complex))


def test_prime_leaves_the_state_process_would(rng):
    X = stft(rng.standard_normal(12000), 1024, 256)
    a, b = OverlapAdd(1024, 256), OverlapAdd(1024, 256)
    a.process(X[:7])
    b.process(X[:7])
    a.process(X[7:12])
    b.prime(X[7:12])
    np.testing.assert_allclose(a.process(X[12:20]), b.process(X[12:20]), atol=1e-12)


@pytest.mark.parametrize("n_fft, hop", GEOMETRIES)
def test_rebuild_with_the_frames_added_changes_nothing(rng, n_fft, hop):
    X = stft(rng.standard_normal(20 * hop + n_fft), n_fft, hop)
    ola = OverlapAdd(n_fft, hop)
    out = ola.process(X[:16])
    k = -(-n_fft // hop) + 2
    acc, recent = ola._acc.copy(), out[-2 * hop - 3:].copy()
    frames = np.fft.irfft(X[16 - k:16], n=n_fft, axis=1)
    assert ola.rebuild(frames, recent, 128) is recent
    np.testing.assert_allclose(recent, out[-2 * hop - 3:], atol=1e-12)
    np.testing.assert_allclose(ola._acc, acc, atol=1e-12)


@pytest.mark.parametrize("n_fft, hop", GEOMETRIES)
def test_rebuild_is_the_overlap_add_the_new_frames_would_have_made(rng, n_fft, hop):
    """The last k frames replaced: the unplayed samples crossfade, over the ramp, from
    what the old frames made to what the new ones make, and everything after is
    exactly what an overlap-add fed the new frames all along returns."""
    old = stft(rng.standard_normal(24 * hop + n_fft), n_fft, hop)
    new = stft(rng.standard_normal(24 * hop + n_fft), n_fft, hop)
    k = -(-n_fft // hop) + 2
    a, b = OverlapAdd(n_fft, hop), OverlapAdd(n_fft, hop)
    played = a.process(old[:16])
    reference = b.process(np.concatenate([old[:16 - k], new[16 - k:16]]))
    ramp, m = 100, 2 * hop + 3
    recent = played[-m:].copy()
    a.rebuild(np.fft.irfft(new[16 - k:16], n=n_fft, axis=1), recent, ramp)
    r = np.minimum(1.0, np.arange(1, m + 1) / ramp)
    np.testing.assert_allclose(recent, (1 - r) * played[-m:] + r * reference[-m:], atol=1e-12)
    np.testing.assert_allclose(a.process(new[16:24]), b.process(new[16:24]), atol=1e-12)
    with pytest.raises(InputError, match=r"frames.shape=\(3, 7\): expected \(k, "):
        a.rebuild(np.zeros((3, 7)), recent, ramp)
