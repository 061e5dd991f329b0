"""Train CANNe / ANNe on a corpus folder, resumably, and keep checkpoints.

Defaults follow the thesis (/work/shared/design.md, "Thesis facts"):

* ``canne``: input ``mag+diff1``; loss = per-frame spectral convergence
  ``||s - s_hat|| / ||s||`` averaged over the batch, plus ``1e-10`` times the
  sum of squared weight matrices (biases excluded); Adam, lr 1e-3.
* ``anne``: input ``mag``; loss = MSE plus ``1e-8`` times the sum of squared
  weights (the thesis gives no value; at initialisation the sum is ~960, so the
  term is ~1e-5, about 2 % of the thesis' final MSE 4.9e-4); Adam, lr 1e-4;
  activation ``hybrid``.

Every epoch writes ``run_dir/checkpoint.pt`` (atomically) and, when the
validation loss improves, ``best.pt``; a later call with the same config
continues from the stored epoch. Each call ends by writing ``loss.png`` and
``reconstructions.png``. ``valid_sc``/``test_sc`` are the thesis' SC (appendix
A.2): the ratio of squared norms over the whole split,
``sum((s - s_hat)**2) / sum(s**2)``, the figure tables 4.1/4.2 report;
``*_sc_frames`` is the mean over frames of ``||s - s_hat|| / ||s||``
(design.md's per-frame SC); ``*_mse`` is the mean over all bins of all frames. Test metrics are reported, never used for selection.
``train`` turns on torch's flush-denormal mode for the process: without it the
17-layer CANNe runs about 20x slower on CPU once activations get tiny.

Usage::

    python -m export.train canne --corpus export/corpus/canne/5oct --run export/runs/canne --epochs 30
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from export.data import INPUT_FEATURES, corpus_info, load_features
from export.models import build_model, he_init_, thesis_init_
from export.plots import plot_loss, plot_reconstructions

__all__ = ["DEFAULTS", "evaluate", "main", "train"]

#: per-kind defaults: input features, learning rate, L2 weight, loss name
DEFAULTS = {"canne": {"input_features": "mag+diff1", "lr": 1e-3, "l2": 1e-10, "loss": "sc+l2",
                      "batch_size": 200},
            "anne": {"input_features": "mag", "lr": 1e-4, "l2": 1e-8, "loss": "mse+l2",
                     "batch_size": 100}}
log = logging.getLogger("export.train")


def train(kind, corpus_dir, run_dir, *, epochs, input_features=None, activation="hybrid",
          batch_size=None, lr=None, l2=None, seed=0, max_frames=None, threads=None,
          progress=True, init="default") -> Path:
    """Train (or resume training) up to ``epochs`` completed epochs.

    Parameters
    ----------
    kind : {'canne', 'anne'}
    corpus_dir : path-like
        Folder with ``frames_{train,valid,test}.npy``.
    run_dir : path-like
        Output folder; an existing ``checkpoint.pt`` with the same config is resumed.
    epochs : int
        Total epochs wanted (not additional ones).
    input_features, lr, l2, batch_size : optional
        Override the per-kind :data:`DEFAULTS` (the thesis' values: CANNe batch
        200, chapter 4.5; ANNe batch 100, chapter 3.2).
    activation : str
        ANNe variant ('hybrid', 'sigmoid', 'relu'); ignored for CANNe.
    seed, threads : int
        ``threads`` defaults to 2 (torch intra-op threads).
    max_frames : int, optional
        Train on a seeded random subset of this many train frames.
    progress : bool
        A tqdm bar over batches and one log line per epoch.
    init : {'default', 'thesis', 'he'}
        PyTorch's default initialisation, the thesis' truncated normal (std
        0.15) on every weight and bias, or He-normal weights with biases 0.01.

    Returns
    -------
    pathlib.Path
        ``run_dir/checkpoint.pt``.
    """
    if kind not in DEFAULTS:
        raise ValueError(f"kind={kind!r}: expected 'canne' or 'anne'")
    d = DEFAULTS[kind]
    feats = input_features or d["input_features"]
    if feats not in INPUT_FEATURES:
        raise ValueError(f"input_features={feats!r}: expected one of {', '.join(INPUT_FEATURES)}")
    torch.set_num_threads(int(threads or 2))
    torch.set_flush_denormal(True)  # deep ReLU stacks hit denormals: 20x slower CPU matmuls
    torch.manual_seed(seed)
    np.random.seed(seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = {s: torch.from_numpy(a) for s, a in load_features(corpus_dir, feats, max_frames, seed).items()}
    n_bins = int(np.load(Path(corpus_dir) / "frames_valid.npy", mmap_mode="r").shape[1])
    config = {"kind": kind, "input_features": feats,
              "activation": activation if kind == "anne" else "relu",
              "n_bins": int(n_bins), "n_features": int(data["train"].shape[1]),
              **corpus_info(corpus_dir, n_bins), "corpus_dir": str(corpus_dir), "seed": int(seed),
              "batch_size": int(batch_size or d["batch_size"]),
              "lr": float(lr if lr is not None else d["lr"]),
              "l2": float(l2 if l2 is not None else d["l2"]), "loss": d["loss"], "init": init}
    model = build_model(kind, config["n_features"], n_bins,
                        **({"activation": activation} if kind == "anne" else {}))
    if init == "thesis":
        thesis_init_(model)
    elif init == "he":
        he_init_(model)
    elif init != "default":
        raise ValueError(f"init={init!r}: expected 'default', 'thesis' or 'he'")
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    ckpt_path = run_dir / "checkpoint.pt"
    ckpt = _resume(ckpt_path, config, model, opt)
    history = ckpt["history"] if ckpt else {k: [] for k in ("train_loss", "valid_loss", "valid_sc", "valid_mse")}
    start = ckpt["epoch"] if ckpt else 0
    best = min(history["valid_loss"], default=float("inf"))
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(len(data["train"])))
        total, count = 0.0, 0
        bs = config["batch_size"]
        bar = _bar(range(0, len(order), bs), f"{kind} epoch {epoch + 1}/{epochs}", progress)
        for i in bar:
            x = data["train"][order[i:i + bs]]
            loss = _loss(config, model, x, model(x)[0])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(x), count + len(x)
            if progress and (i // bs) % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4g}")
        valid = evaluate(model, data["valid"], n_bins)
        penalty = config["l2"] * _sumsq(model).item()
        valid_loss = (valid["sc"] if kind == "canne" else valid["mse"]) + penalty
        for key, v in zip(history, (total / count, valid_loss, valid["sc"], valid["mse"])):
            history[key].append(float(v))
        test = evaluate(model, data["test"], n_bins)
        metrics = {"valid_sc": valid["sc"], "valid_sc_frames": valid["sc_frames"],
                   "valid_mse": valid["mse"], "test_sc": test["sc"],
                   "test_sc_frames": test["sc_frames"], "test_mse": test["mse"], "epochs": epoch + 1}
        state = {"model_state": model.state_dict(), "optimizer_state": opt.state_dict(),
                 "epoch": epoch + 1, "config": config, "history": history, "metrics": metrics}
        _atomic_save(state, ckpt_path)
        if valid_loss < best:
            best = valid_loss
            _atomic_save(state, run_dir / "best.pt")
        log.info("epoch %d/%d  train %.5g  valid %.5g  valid SC %.4f  valid MSE %.3e  "
                 "%.1f s", epoch + 1, epochs, total / count, valid_loss, valid["sc"],
                 valid["mse"], time.perf_counter() - t0)
    plot_loss(run_dir / "loss.png", history, config)
    idx = np.linspace(0, len(data["valid"]) - 1, 4).round().astype(int)
    model.eval()
    with torch.no_grad():
        rec = model(data["valid"][idx])[0].numpy()
    plot_reconstructions(run_dir / "reconstructions.png", data["valid"][idx, :n_bins].numpy(),
                         rec, config, idx)
    return ckpt_path


def evaluate(model, x, n_bins, batch=1024) -> dict:
    """Spectral convergence and MSE of ``model`` on feature rows ``x`` (no grad).

    Returns
    -------
    dict
        ``sc``: the thesis' spectral convergence as appendix A.2 computes it
        (``loss2``): the ratio of squared norms over the whole split,
        ``sum((s - s_hat)**2) / sum(s**2)``, which is what tables 4.1/4.2
        report; ``sc_frames``: the mean over frames of the per-frame
        ``||s - s_hat|| / ||s||`` (design.md's definition, no square);
        ``mse``: mean squared error per bin.
    """
    model.eval()
    sc, se, energy = 0.0, 0.0, 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            target, err = xb[:, :n_bins], model(xb)[0] - xb[:, :n_bins]
            sc += (err.norm(dim=1) / target.norm(dim=1).clamp_min(1e-12)).double().sum().item()
            se += err.double().pow(2).sum().item()
            energy += target.double().pow(2).sum().item()
    return {"sc": se / max(energy, 1e-300), "sc_frames": sc / len(x), "mse": se / (len(x) * n_bins)}


def main(argv=None) -> int:
    """Command line: ``python -m export.train {canne,anne} --corpus DIR --run DIR --epochs N``."""
    ap = argparse.ArgumentParser(prog="python -m export.train", description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=sorted(DEFAULTS))
    ap.add_argument("--corpus", required=True, help="folder with frames_{train,valid,test}.npy")
    ap.add_argument("--run", required=True, help="run folder (checkpoint.pt, best.pt, plots)")
    ap.add_argument("--epochs", type=int, required=True, help="total epochs (a resumed run continues)")
    ap.add_argument("--input-features", choices=INPUT_FEATURES)
    ap.add_argument("--activation", default="hybrid", choices=("hybrid", "sigmoid", "relu"))
    ap.add_argument("--batch-size", type=int, help="default: thesis value (canne 200, anne 100)")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--l2", type=float)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-frames", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", default="default", choices=("default", "thesis", "he"))
    ap.add_argument("--no-bar", action="store_true", help="no tqdm bar (for log files)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    path = train(a.kind, a.corpus, a.run, epochs=a.epochs, input_features=a.input_features,
                 activation=a.activation, batch_size=a.batch_size, lr=a.lr, l2=a.l2, seed=a.seed,
                 max_frames=a.max_frames, threads=a.threads, progress=not a.no_bar,
                 init=a.init)
    m = torch.load(path, weights_only=False)["metrics"]
    print(f"{path}: " + "  ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
    return 0


# --------------------------------------------------------------------------- helpers


def _loss(config, model, x, y):
    target = x[:, :config["n_bins"]]
    if config["kind"] == "canne":
        # appendix A.2's loss2: mean squared error over mean squared target, per batch
        fit = torch.mean((y - target) ** 2) / torch.mean(target ** 2).clamp_min(1e-12)
    else:
        fit = torch.mean((y - target) ** 2)
    return fit + config["l2"] * _sumsq(model)


def _sumsq(model):
    # Sum of squared weight matrices (biases are not penalised)
    return sum(p.pow(2).sum() for p in model.parameters() if p.ndim > 1)


def _resume(path, config, model, opt):
    if not path.is_file():
        return None
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    old = ckpt.get("config", {})
    diff = [k for k in config if k != "corpus_dir" and old.get(k) != config[k]]
    if diff:
        k = diff[0]
        raise ValueError(f"{path}: config field {k!r} is {old.get(k)!r} in the checkpoint but "
                         f"{config[k]!r} now; use another run folder or delete the checkpoint")
    model.load_state_dict(ckpt["model_state"])
    opt.load_state_dict(ckpt["optimizer_state"])
    return ckpt


def _atomic_save(obj, path):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _bar(it, desc, enabled):
    from tqdm import tqdm
    return tqdm(it, desc=desc, unit="batch", leave=False, disable=not enabled, mininterval=1.0)


if __name__ == "__main__":
    raise SystemExit(main())
