"""The corpus generator: synth voices, scales, splits, frames, files and resume."""

import json

import numpy as np
import pytest

from export import corpus, synth

QUICK = dict(n_patches=6, octaves=(1,), note_seconds=0.2, progress=False)


def test_scale_notes_are_c_major():
    five = corpus.scale_notes(5, "C2")
    assert len(five) == 36 and five[0] == 36 and five[-1] == 96
    assert {n % 12 for n in five} == {0, 2, 4, 5, 7, 9, 11}
    assert corpus.scale_notes(1, "C4") == [60, 62, 64, 65, 67, 69, 71, 72]
    assert np.all(np.diff(five) > 0)


def test_splits_are_70_5_5_and_disjoint_by_patch():
    s = corpus.split_patches(80, seed=0)
    assert [len(s[k]) for k in ("train", "valid", "test")] == [70, 5, 5]
    assert sorted(s["train"] + s["valid"] + s["test"]) == list(range(80))
    assert s == corpus.split_patches(80, seed=0)
    assert s != corpus.split_patches(80, seed=1)
    small = corpus.split_patches(6, seed=0)
    assert [len(small[k]) for k in ("train", "valid", "test")] == [4, 1, 1]


def test_random_patches_are_audible_finite_and_bounded():
    patches = corpus.make_patches(12, seed=3)
    assert len({p for p in patches}) == 12  # frozen dataclasses: all different
    for i, p in enumerate(patches):
        assert p.osc1_wave in synth.WAVEFORMS and p.osc2_wave in synth.WAVEFORMS
        for note in (36, 72):
            y = synth.render_note(p, note, 22050, 0.3, np.random.default_rng(i))
            assert y.dtype == np.float32 and np.all(np.isfinite(y)), p
            assert np.sqrt(np.mean(y.astype(float) ** 2)) > 1e-3, (note, p)
            assert np.max(np.abs(y)) <= 1.0


def test_render_is_deterministic_given_rng():
    p = corpus.make_patches(1, seed=7)[0]
    a = synth.render_scale(p, [60, 64, 67], 22050, 0.2, np.random.default_rng(1))
    b = synth.render_scale(p, [60, 64, 67], 22050, 0.2, np.random.default_rng(1))
    assert a.tobytes() == b.tobytes()
    assert np.max(np.abs(a)) == pytest.approx(0.9, abs=1e-6)


def test_saw_is_band_limited():
    # PolyBLEP saw at 3.52 kHz, 44.1 kHz: alias energy below 11 kHz (between
    # the harmonics) is ~45 dB under the harmonics; a naive saw's is ~13 dB.
    f0, sr = 3520.0, 44100
    f = np.full(sr, f0)
    ph = np.cumsum(f / sr) % 1.0
    naive, blep = 2 * ph - 1, 2 * ph - 1 - synth._polyblep(ph, f / sr)

    def alias_db(x):
        s = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
        hz = np.fft.rfftfreq(x.size, 1 / sr)
        harmonic = np.abs(hz / f0 - np.round(hz / f0)) * f0 < 30
        return 10 * np.log10(s[~harmonic & (hz < sr / 4)].sum() / s[harmonic].sum())

    assert alias_db(blep) < -40 and alias_db(blep) < alias_db(naive) - 25


def test_frames_are_normalised_and_silence_dropped():
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(8192), rng.standard_normal(8192) * 0.1, np.zeros(8192)])
    f = corpus.frames_from_audio(audio, 2048, 512)
    assert f.dtype == np.float32 and f.shape[1] == 1025
    assert np.all(np.isfinite(f)) and np.all(f >= 0)
    np.testing.assert_allclose(f.max(axis=1), 1.0, atol=1e-6)
    n_all = 1 + audio.size // 512
    assert 16 <= len(f) < n_all  # the silent ends are gone, the noise and its edges stay


def test_build_corpus_writes_files_deterministically_and_resumes(tmp_path):
    m = corpus.build_corpus(tmp_path / "a", seed=0, **QUICK)
    d = tmp_path / "a" / "anne" / "1oct"
    for split in corpus.SPLITS:
        fr = np.load(d / f"frames_{split}.npy")
        ids = np.load(d / f"patch_ids_{split}.npy")
        assert fr.dtype == np.float32 and fr.shape[1] == 1025 and ids.dtype == np.int16
        assert len(fr) == len(ids) == m["outputs"]["anne/1oct"]["frames"][split] > 0
        assert set(ids.tolist()) == set(m["splits"][split])
        np.testing.assert_allclose(fr.max(axis=1), 1.0, atol=1e-6)
    assert np.load(tmp_path / "a" / "canne" / "1oct" / "frames_train.npy").shape[1] == 2049
    assert len(list((d / "audio").glob("patch_*.wav"))) == 3 + 1 + 1
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert man["seed"] == 0 and len(man["patches"]) == 6
    assert man["outputs"]["canne/1oct"]["sr"] == 44100 and man["outputs"]["anne/1oct"]["sr"] == 22050
    assert not list(tmp_path.rglob("*.tmp"))

    # Resume: a second run with the same seed writes nothing.
    stamp = (d / "frames_train.npy").stat().st_mtime_ns
    corpus.build_corpus(tmp_path / "a", seed=0, **QUICK)
    assert (d / "frames_train.npy").stat().st_mtime_ns == stamp

    again = corpus.build_corpus(tmp_path / "b", seed=0, configs=("anne",), **QUICK)
    other = corpus.build_corpus(tmp_path / "c", seed=1, configs=("anne",), **QUICK)
    same = (tmp_path / "b" / "anne" / "1oct" / "frames_train.npy").read_bytes()
    assert same == (d / "frames_train.npy").read_bytes()
    assert same != (tmp_path / "c" / "anne" / "1oct" / "frames_train.npy").read_bytes()
    assert again["splits"] == m["splits"] and other["patches"] != m["patches"]


def test_changed_seed_rebuilds_instead_of_resuming(tmp_path):
    corpus.build_corpus(tmp_path, seed=0, configs=("anne",), **QUICK)
    before = (tmp_path / "anne" / "1oct" / "frames_train.npy").read_bytes()
    m = corpus.build_corpus(tmp_path, seed=5, configs=("anne",), **QUICK)
    assert m["seed"] == 5
    assert (tmp_path / "anne" / "1oct" / "frames_train.npy").read_bytes() != before


def test_cli_quick(tmp_path, capsys):
    assert corpus.main(["--out", str(tmp_path), "--quick", "--configs", "anne"]) == 0
    assert "anne/1oct: train" in capsys.readouterr().out
    assert (tmp_path / "anne" / "1oct" / "frames_test.npy").is_file()
