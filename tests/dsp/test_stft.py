import librosa
import numpy as np
import pytest

from rtsynth.dsp import first_frame, istft, n_frames, stft
from rtsynth.errors import InputError, RtsynthError

GEOMETRIES = [(4096, 1024), (2048, 512), (4096, 256), (1024, 300), (16, 3)]


@pytest.mark.parametrize("n_fft,hop", GEOMETRIES)
def test_frames_match_librosa_centre_convention(rng, n_fft, hop):
    x = rng.standard_normal(9001)
    X = stft(x, n_fft, hop)
    ref = librosa.stft(x, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant").T
    n0 = first_frame(n_fft, hop)
    # our frame index n >= 0 is librosa's column n
    k = min(ref.shape[0], X.shape[0] + n0)
    np.testing.assert_allclose(X[-n0:-n0 + k], ref[:k], atol=1e-9)
    assert X.shape == (n_frames(x.size, n_fft, hop), n_fft // 2 + 1)


@pytest.mark.parametrize("n_fft,hop", GEOMETRIES)
def test_istft_inverts_stft_from_the_first_sample(rng, n_fft, hop):
    x = rng.standard_normal(7777)
    y = istft(stft(x, n_fft, hop), n_fft, hop, length=x.size)
    assert np.max(np.abs(y - x)) <= 1e-10


def test_first_frame_is_the_first_window_reaching_sample_zero():
    for n_fft, hop in GEOMETRIES:
        n0 = first_frame(n_fft, hop)
        assert n0 * hop + n_fft // 2 > 0
        assert (n0 - 1) * hop + n_fft // 2 <= 0


@pytest.mark.parametrize("n_fft,hop,match", [
    (4095, 1024, r"n_fft=4095: expected an even integer"),
    (4096, 0, r"hop=0: expected an integer in \[1, n_fft/2=2048\]"),
    (4096, 3000, r"hop=3000: expected an integer in \[1, n_fft/2=2048\]"),
])
def test_bad_geometry_is_one_clear_error(n_fft, hop, match):
    with pytest.raises(InputError, match=match) as info:
        stft(np.zeros(100), n_fft, hop)
    assert isinstance(info.value, (ValueError, RtsynthError))


def test_istft_rejects_wrong_bin_count():
    with pytest.raises(InputError, match=r"frames.shape=\(3, 10\): expected \(n_frames, 2049\)"):
        istft(np.zeros((3, 10), complex), 4096, 1024, length=100)
