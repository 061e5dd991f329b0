"""export.train: both kinds train, checkpoint, resume and reproduce on a tiny corpus."""

import numpy as np
import pytest
import torch

from export import corpus, train

CKPT_KEYS = {"model_state", "optimizer_state", "epoch", "config", "history", "metrics"}
CONFIG_KEYS = {"kind", "input_features", "activation", "n_bins", "n_features", "sample_rate",
               "n_fft", "hop", "corpus_dir", "seed", "batch_size", "lr", "l2", "loss", "init"}
HISTORY_KEYS = {"train_loss", "valid_loss", "valid_sc", "valid_mse"}
METRIC_KEYS = {"valid_sc", "valid_sc_frames", "valid_mse", "test_sc", "test_sc_frames", "test_mse",
               "epochs"}
QUICK = dict(max_frames=200, batch_size=100, threads=2, progress=False)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    corpus.build_corpus(root, n_patches=6, octaves=(1,), note_seconds=0.2, progress=False)
    return root


@pytest.mark.parametrize("kind,n_bins,sr", [("canne", 2049, 44100), ("anne", 1025, 22050)])
def test_train_checkpoints_resumes_and_reproduces(tiny_corpus, tmp_path, kind, n_bins, sr):
    data = tiny_corpus / kind / "1oct"
    path = train.train(kind, data, tmp_path / "a", epochs=2, **QUICK)
    assert path == tmp_path / "a" / "checkpoint.pt"
    ck = torch.load(path, weights_only=False)
    assert set(ck) == CKPT_KEYS and ck["epoch"] == 2
    assert set(ck["config"]) == CONFIG_KEYS and set(ck["history"]) == HISTORY_KEYS
    assert set(ck["metrics"]) == METRIC_KEYS and ck["metrics"]["epochs"] == 2
    cfg = ck["config"]
    assert (cfg["kind"], cfg["n_bins"], cfg["sample_rate"], cfg["n_fft"] // 2 + 1) == (kind, n_bins, sr, n_bins)
    assert cfg["n_features"] == (2 * n_bins if kind == "canne" else n_bins)
    assert cfg["input_features"] == ("mag+diff1" if kind == "canne" else "mag")
    h = ck["history"]
    assert all(len(v) == 2 and np.all(np.isfinite(v)) for v in h.values())
    assert h["train_loss"][1] < h["train_loss"][0]
    assert all(np.isfinite(v) for v in ck["metrics"].values())
    assert ck["metrics"]["valid_sc"] > 0 and 0 < ck["metrics"]["test_mse"] < 1
    for name in ("best.pt", "loss.png", "reconstructions.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    assert not list((tmp_path / "a").glob("*.tmp*"))

    # Same seed, fresh folder: bit-identical weights.
    other = torch.load(train.train(kind, data, tmp_path / "b", epochs=2, **QUICK), weights_only=False)
    for k, v in ck["model_state"].items():
        assert torch.equal(v, other["model_state"][k]), k

    # Resume 2 -> 3 continues the same run.
    ck3 = torch.load(train.train(kind, data, tmp_path / "a", epochs=3, **QUICK), weights_only=False)
    assert ck3["epoch"] == 3 and ck3["metrics"]["epochs"] == 3
    assert all(len(v) == 3 for v in ck3["history"].values())
    assert ck3["history"]["train_loss"][:2] == h["train_loss"]
    assert not all(torch.equal(v, ck["model_state"][k]) for k, v in ck3["model_state"].items())
    if kind == "anne":  # cheap enough: resumed 2 -> 3 equals an uninterrupted 3-epoch run
        straight = torch.load(train.train(kind, data, tmp_path / "c", epochs=3, **QUICK),
                              weights_only=False)
        assert straight["history"] == ck3["history"]
        for k, v in ck3["model_state"].items():
            assert torch.equal(v, straight["model_state"][k]), k


def test_resume_with_a_different_config_is_refused(tiny_corpus, tmp_path):
    data = tiny_corpus / "anne" / "1oct"
    train.train("anne", data, tmp_path, epochs=1, **QUICK)
    with pytest.raises(ValueError, match="activation"):
        train.train("anne", data, tmp_path, epochs=2, activation="sigmoid", **QUICK)
