"""`rtsynth inspect`: summary and plots for the shipped bundles, known answers on test bundles,
one-sentence errors on broken folders."""

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from clirun import one_line_error, run_cli
from model_bundles import make_bundle
from synth_bundles import make_identity_bundle, make_synth_bundle

from rtsynth.errors import InputError
from rtsynth.host.inspect import inspect_model, knob_spectra, latent_sweeps
from rtsynth.model import load_bundle

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def _shipped(name):
    folder = ROOT / "models" / name
    if not (folder / "manifest.json").is_file():
        pytest.skip(f"models/{name} is not shipped in this checkout")
    return folder


@pytest.mark.parametrize("name, pngs", [("canne", ["latent_sweeps.png", "latent_pitch.png"]),
                                        ("anne", ["knobs.png"])])
def test_inspect_writes_summary_and_pngs_for_shipped_models(tmp_path, name, pngs):
    folder = _shipped(name)
    out = tmp_path / "out"
    r = run_cli("inspect", folder, "--out", out)
    assert r.returncode == 0, r.stderr
    latent_dim = json.loads((folder / "manifest.json").read_text())["latent_dim"]
    assert f"latent: {latent_dim} neurons" in r.stdout
    assert "n_fft" in r.stdout and "presets (" in r.stdout and "decoder.onnx" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(["summary.txt"] + pngs)  # no temp files
    assert (out / "summary.txt").read_text().strip() in r.stdout
    for png in pngs:
        data = (out / png).read_bytes()
        assert data.startswith(PNG) and len(data) > 20_000, png


def test_latent_sweeps_find_the_test_decoders_pitch(tmp_path):
    f0 = 261.63
    bundle = load_bundle(make_synth_bundle(tmp_path / "b", n_fft=2048, sample_rate=22050, f0=f0))
    data = latent_sweeps(bundle, steps=9)
    assert data.mags.shape == (8, 9, 1025) and data.base_name == "timbre-0"
    # each sweep's end: the base timbre plus timbre i at full weight -> the known f0
    assert np.allclose(data.f0[:, -1], f0, rtol=0.01), data.f0[:, -1]
    assert np.allclose(data.values[[0, -1]], [[0.0] * 8, [1.0] * 8])
    # latent 0's sweep starts from z = 0: a silent frame has no pitch and no centroid
    assert data.f0[0, 0] == 0.0 and data.centroid[0, 0] == 0.0
    assert np.all((data.centroid[:, -1] > f0) & (data.centroid[:, -1] < 11025))


def test_knob_spectra_on_an_identity_model_scale_their_own_bins(tmp_path):
    bundle = load_bundle(make_identity_bundle(tmp_path / "id", n_fft=64, hop=16))
    data = knob_spectra(bundle, values=(0.5, 1.0, 5.5))
    assert data.sizes == (7, 7, 7, 6, 6)
    assert np.allclose(data.neutral, data.input, rtol=1e-4)
    # knob b at each gain: bins 7..13 scaled by the gain, every other bin untouched
    for j, gain in enumerate(data.values):
        assert np.allclose(data.spectra[1, j, 7:14], gain * data.input[7:14], rtol=1e-4)
        assert np.allclose(data.spectra[1, j, :7], data.input[:7], rtol=1e-4)
        assert np.allclose(data.spectra[1, j, 14:], data.input[14:], rtol=1e-4)


def test_inspect_on_a_canne_shaped_test_bundle_in_process(tmp_path, capsys):
    folder = make_bundle(tmp_path / "tiny")
    result = inspect_model(folder, tmp_path / "o")
    assert [p.name for p in result.files] == ["summary.txt", "latent_sweeps.png",
                                              "latent_pitch.png"]
    assert "presets (1, the first is the default): zero" in capsys.readouterr().out


@pytest.mark.parametrize("damage, needle", [
    ("missing", "expected a model bundle folder"),
    ("no-manifest", "manifest.json"),
    ("bad-hash", "sha256"),
    ("not-json", "manifest.json"),
])
def test_broken_model_folder_is_one_sentence(tmp_path, damage, needle):
    folder = tmp_path / "bundle"
    if damage != "missing":
        make_bundle(folder)
    if damage == "no-manifest":
        (folder / "manifest.json").unlink()
    elif damage == "bad-hash":
        (folder / "decoder.onnx").write_bytes(b"not an onnx file")
    elif damage == "not-json":
        (folder / "manifest.json").write_text("{ this is not json")
    r = run_cli("inspect", folder, "--out", tmp_path / "out")
    line = one_line_error(r)
    assert needle in line and str(folder) in line, line
    assert not (tmp_path / "out").exists()  # nothing written for a model that did not load


def test_unwritable_out_is_one_sentence(tmp_path):
    folder = make_bundle(tmp_path / "tiny")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = one_line_error(run_cli("inspect", folder, "--out", blocker / "sub"))
    assert "out=" in line and "expected a folder that can be created" in line


def test_missing_matplotlib_is_one_sentence(tmp_path, monkeypatch):
    folder = make_bundle(tmp_path / "tiny")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(InputError, match=r"expected matplotlib to be installed"):
        inspect_model(folder, tmp_path / "o", out=io.StringIO())
    assert (tmp_path / "o" / "summary.txt").is_file()  # the summary does not need matplotlib
