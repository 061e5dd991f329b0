"""StreamResampler and RateBridge: output counts, alignment, response, exact bridged delay."""

import numpy as np
import pytest

from rtsynth.dsp import StftProcessor
from rtsynth.engine import RateBridge, StreamResampler
from rtsynth.errors import InputError

RATIOS = [(48000, 22050), (22050, 48000), (48000, 16000), (16000, 48000), (44100, 48000)]


def stream(r, x, rng, max_in):
    """Feed ``x`` in random block sizes; return the output and check the count formula each call."""
    out, pos = [], 0
    buf = np.zeros(r.max_out(max_in))
    while pos < x.size:
        n = int(rng.integers(1, max_in + 1))
        k = r.process(x[pos:pos + n], buf)
        pos += min(n, x.size - pos)
        out.append(buf[:k].copy())
        assert sum(map(len, out)) == r.count(pos)
    return np.concatenate(out)


@pytest.mark.parametrize("rates", RATIOS)
def test_impulse_lands_on_its_time_at_the_new_rate(rates, rng):
    a, b = rates
    r = StreamResampler(a, b, max_in=700)
    x = np.zeros(a // 4)
    x[1000] = 1.0
    y = stream(r, x, rng, 700)
    # a band-limited impulse centred on 1000 * b / a: its peak is the nearest sample
    assert abs(int(np.argmax(y)) - 1000 * b / a) <= 0.5


@pytest.mark.parametrize("rates", RATIOS)
def test_sines_pass_flat_and_in_phase(rates):
    a, b = rates
    r = StreamResampler(a, b, max_in=a)
    nyq = min(a, b) / 2
    for f, tol in ((100.0, 1e-4), (1000.0, 1e-4), (0.85 * nyq, 1e-3)):
        x = np.sin(2 * np.pi * f * np.arange(a) / a)
        r.reset()
        out = np.zeros(r.max_out(a))
        y = out[:r.process(x, out)]
        k = np.arange(y.size)[y.size // 4:3 * y.size // 4]
        ref = np.sin(2 * np.pi * f * k / b)
        assert np.max(np.abs(y[k] - ref)) < tol, (f, np.max(np.abs(y[k] - ref)))


def test_downsampling_rejects_what_the_new_rate_cannot_hold():
    r = StreamResampler(48000, 16000, max_in=48000)
    x = np.sin(2 * np.pi * 8300 * np.arange(48000) / 48000)  # above 8 kHz: would alias
    out = np.zeros(r.max_out(48000))
    y = out[:r.process(x, out)]
    assert np.max(np.abs(y[2000:-2000])) < 1e-3


def test_block_partition_does_not_change_the_output(rng):
    x = rng.standard_normal(20000)
    ys = [stream(StreamResampler(48000, 22050, max_in=m), x, np.random.default_rng(m), m)
          for m in (1, 64, 1000)]
    n = min(map(len, ys))
    np.testing.assert_array_equal(ys[0][:n], ys[1][:n])
    np.testing.assert_array_equal(ys[0][:n], ys[2][:n])


def test_unreduced_ratio_is_refused():
    with pytest.raises(InputError, match=r"sample_rate=48001: expected a rate whose ratio"):
        StreamResampler(22050, 48001)


@pytest.mark.parametrize("device,model,n_fft", [(48000, 22050, 2048), (48000, 16000, 64),
                                                (44100, 22050, 1024), (22050, 48000, 1024)])
def test_bridge_delay_is_exact_for_any_block_sizes(device, model, n_fft, rng):
    stft = StftProcessor(n_fft, n_fft // 4, chunk=8192)
    bridge = RateBridge(lambda b, o: stft.process(b, out=o), stft.latency_samples, model,
                        device, max_block=1024)
    lag = bridge.latency_samples
    # the fixed part is the STFT's delay at the device rate, rounded up; the rest is the
    # resamplers' look-ahead, a few milliseconds
    assert lag >= stft.latency_samples * device / model
    assert 0 < bridge.resampler_samples < 0.01 * device
    spacing = lag + 3000
    x = np.zeros(6 * spacing)
    x[1000::spacing] = 0.5
    y = np.zeros_like(x)
    pos = 0
    while pos < x.size:  # random block sizes: the FIFO must never run dry
        n = int(rng.integers(1, 1025))
        bridge.process(x[pos:pos + n], y[pos:pos + n])
        pos += n
    assert bridge.underruns == 0
    for start in range(1000, x.size - spacing, spacing):
        seg = np.abs(y[start:start + spacing])
        assert int(np.argmax(seg)) == lag
        # symmetric around the delay: an exact integer delay, not a fractional one
        assert abs(seg[lag - 1] - seg[lag + 1]) < 1e-4 * seg[lag]
