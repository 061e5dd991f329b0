"""Corpus -> training -> ONNX bundle -> rtsynth loader, on a tiny corpus (export.convert)."""

import json

import numpy as np
import pytest
import torch

from export import convert, corpus, train
from export.models import build_model
from rtsynth.dsp import F0Estimator
from rtsynth.errors import ModelError
from rtsynth.model import load_bundle

QUICK = dict(n_patches=6, octaves=(1,), note_seconds=0.2, progress=False)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    corpus.build_corpus(root, seed=0, **QUICK)
    return root


@pytest.fixture(scope="module")
def canne_ckpt(tiny_corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    return train.train("canne", tiny_corpus / "canne" / "1oct", run, epochs=2, max_frames=200,
                       progress=False)


def test_checkpoint_converts_to_a_loadable_bundle(canne_ckpt, tiny_corpus, tmp_path):
    out = convert.convert_checkpoint(canne_ckpt, tmp_path / "models" / "canne", name="canne")
    b = load_bundle(out, need_encoder=True)
    m = b.manifest
    assert (m.kind, m.n_bins, m.latent_dim, m.input_features) == ("canne", 2049, 8, "mag+diff1")
    assert (m.sample_rate, m.n_fft, m.hop, m.frame_normalization) == (44100, 4096, 1024, "max")
    assert m.metrics["onnx_encoder_max_abs_diff"] <= 1e-5
    assert m.metrics["onnx_decoder_max_abs_diff"] <= 1e-5
    assert m.metrics["epochs"] == 2 and {"valid_sc", "valid_mse", "test_sc", "test_mse"} <= set(m.metrics)
    cm = json.loads((tiny_corpus / "manifest.json").read_text())
    assert m.corpus["splits"] == cm["outputs"]["canne/1oct"]["frames"] and m.corpus["seed"] == 0
    assert 1 <= len(m.presets) <= convert.PRESET_PATCHES
    assert all(k.startswith("test-patch-") for k in m.presets)
    for lo, hi in m.latent_range:
        assert lo <= hi
    est, harm = F0Estimator(4096, 44100), []
    for vec in m.presets.values():
        y = b.decode(np.asarray(vec, np.float32))
        est.estimate(y.astype(np.float64))
        harm.append(est.harmonicity)
        assert y.shape == (2049,) and y.dtype == np.float32
        assert np.all(np.isfinite(y)) and np.all(y >= 0)
    assert harm[0] == max(harm)  # the default (first) preset is the most harmonic
    # atomic: only the finished bundle is left beside it, no temporary folders
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["canne"]
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "manifest.json"]

    # converting again replaces the bundle in place
    convert.convert_checkpoint(canne_ckpt, out, name="again", presets={"zero": [0.0] * 8})
    again = load_bundle(out).manifest
    assert again.name == "again" and again.presets == {"zero": [0.0] * 8}
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["canne"]


def test_quantize_writes_int8_variants(canne_ckpt, tmp_path):
    out = convert.convert_checkpoint(canne_ckpt, tmp_path / "q", name="q", quantize=True)
    raw = json.loads((out / "manifest.json").read_text())
    assert set(raw["files"]) == {"encoder.onnx", "decoder.onnx"}
    assert set(raw["variants"]["int8"]) == {"encoder.int8.onnx", "decoder.int8.onnx"}
    for name, entry in raw["variants"]["int8"].items():
        assert entry["sha256"] == convert._sha256(out / name)
    fp32, int8 = load_bundle(out), load_bundle(out, variant="int8")
    m = fp32.manifest
    assert np.isfinite(m.metrics["int8_sc_cost"]) and abs(m.metrics["int8_sc_cost"]) < 0.5
    z = np.asarray(next(iter(m.presets.values())), np.float32)
    a, b = fp32.decode(z), int8.decode(z)
    assert b.shape == a.shape and np.all(np.isfinite(b))


def _random_anne(n_bins, bias=False):
    torch.manual_seed(1)
    model = build_model("anne", n_bins, n_bins, bias=bias).eval()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    arrays = {f"W_fc{i}": lin.weight.detach().numpy().T.copy() for i, lin in enumerate(linears, 1)}
    if bias:
        arrays.update({f"b_fc{i}": lin.bias.detach().numpy().copy() for i, lin in enumerate(linears, 1)})
    return model, arrays


@pytest.mark.parametrize("with_corpus", [True, False])
def test_npz_with_tf_names_matches_torch(with_corpus, tiny_corpus, tmp_path):
    model, arrays = _random_anne(1025, bias=not with_corpus)
    np.savez(tmp_path / "w.npz", **arrays)
    fields = {"sample_rate": 22050, "n_fft": 2048, "hop": 512}
    out = convert.convert_npz(tmp_path / "w.npz", tmp_path / "anne", kind="anne", name="anne",
                              manifest_fields=fields,
                              corpus_dir=tiny_corpus / "anne" / "1oct" if with_corpus else None)
    b = load_bundle(out, need_encoder=True)
    assert (b.manifest.kind, b.manifest.latent_dim, b.manifest.input_features) == ("anne", 64, "mag")
    z = np.random.default_rng(0).random((16, 64), dtype=np.float32)
    with torch.no_grad():
        want = model.decoder(torch.from_numpy(z)).numpy()
    assert np.max(np.abs(b.decode(z) - want)) <= 1e-5
    x = np.random.default_rng(1).random((4, 1025), dtype=np.float32)
    with torch.no_grad():
        assert np.max(np.abs(b.encode(x) - model.encoder(torch.from_numpy(x)).numpy())) <= 1e-5
    assert (b.manifest.corpus["path"] is None) is (not with_corpus)


def test_npz_with_wrong_names_or_shapes_fails_clearly(tmp_path):
    _, arrays = _random_anne(1025)
    fields = {"sample_rate": 22050, "n_fft": 2048, "hop": 512}
    bad = {**arrays, "W_fc3": arrays["W_fc3"].T}
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ModelError, match=r"W_fc3 of shape \(256, 128\)"):
        convert.convert_npz(tmp_path / "shape.npz", tmp_path / "x", kind="anne", name="x",
                            manifest_fields=fields)
    np.savez(tmp_path / "names.npz", **{k: v for k, v in arrays.items() if k != "W_fc8"},
             extra=np.zeros(1))
    with pytest.raises(ModelError, match="W_fc1"):
        convert.convert_npz(tmp_path / "names.npz", tmp_path / "x", kind="anne", name="x",
                            manifest_fields=fields)
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".*"))


def test_parity_failure_names_the_difference_and_leaves_nothing(canne_ckpt, tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "PARITY_TOL", -1.0)
    with pytest.raises(ModelError, match="max abs diff"):
        convert.convert_checkpoint(canne_ckpt, tmp_path / "p", name="p")
    assert list(tmp_path.iterdir()) == []


def test_cli_npz(tmp_path, capsys):
    _, arrays = _random_anne(1025)
    np.savez(tmp_path / "w.npz", **arrays)
    args = ["npz", str(tmp_path / "w.npz"), "--kind", "anne", "--name", "cli", "--sample-rate",
            "22050", "--n-fft", "2048", "--hop", "512", "--out"]
    assert convert.main(args + [str(tmp_path / "cli")]) == 0
    assert "onnx_decoder_max_abs_diff" in capsys.readouterr().out
    assert load_bundle(tmp_path / "cli").manifest.name == "cli"
    np.savez(tmp_path / "bad.npz", W_fc1=np.zeros((2, 2)))
    with pytest.raises(SystemExit) as e:
        convert.main(args[:1] + [str(tmp_path / "bad.npz")] + args[2:] + [str(tmp_path / "x")])
    assert e.value.code == 1 and "expected arrays W_fc1..W_fc8" in capsys.readouterr().err
