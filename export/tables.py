"""Rerun the thesis' model tables with :func:`export.train.train` and report them.

* Table 3.3: ANNe deep topology, activations sigmoid / relu / hybrid, test MSE
  on ``anne/5oct``.
* Tables 4.1 / 4.2: CANNe input appends none / diff1 / diff2 / diff1+diff2 /
  MFCCs, validation SC on ``canne/5oct`` and ``canne/1oct``.

Each cell is one resumable run in ``<out>/<name>/``; results go to
``<out>/results.json`` and a markdown table between the ``<!-- thesis-tables -->``
markers of ``export/README.md``, rewritten after every cell. Note that
``max_frames`` is not part of a checkpoint's config: rerunning a cell with a
different ``--max-frames`` continues the old run on the new subset.

Usage::

    python -m export.tables --epochs 10 --max-frames 20000
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from export.train import train

__all__ = ["CELLS", "main", "markdown", "run_tables"]

#: name -> (table, row label, kind, corpus sub-folder, train() keywords, thesis value)
CELLS = {
    "anne_sigmoid": ("3.3", "All sigmoid", "anne", "anne/5oct", {"activation": "sigmoid"}, 1.72e-3),
    "anne_relu": ("3.3", "All ReLU", "anne", "anne/5oct", {"activation": "relu"}, 8.00e-2),
    "anne_hybrid": ("3.3", "Hybrid", "anne", "anne/5oct", {"activation": "hybrid"}, 4.91e-4),
    **{f"canne{o}_{short}": (table, label, "canne", f"canne/{o}oct", {"input_features": feats}, v)
       for o, table, values in ((5, "4.1", (0.257, 0.217, 0.245, 0.242, 0.236)),
                                (1, "4.2", (0.212, 0.172, 0.178, 0.188, 0.208)))
       for (short, label, feats), v in zip(
           (("none", "No append", "mag"), ("diff1", "1st order diff", "mag+diff1"),
            ("diff2", "2nd order diff", "mag+diff2"),
            ("diff12", "1st and 2nd order diff", "mag+diff1+diff2"),
            ("mfcc", "MFCCs", "mag+mfcc")), values)},
}
_TITLES = {"3.3": "Table 3.3 - ANNe deep topology on anne/5oct: test MSE "
                  "(thesis: 500 epochs, batch 100, GPU)",
           "4.1": "Table 4.1 - CANNe on canne/5oct: validation SC (thesis: 300 epochs, batch 200, GPU)",
           "4.2": "Table 4.2 - CANNe on canne/1oct: validation SC (thesis: 300 epochs, batch 200, GPU)"}
BEGIN, END = "<!-- thesis-tables -->", "<!-- /thesis-tables -->"


def run_tables(epochs, max_frames=None, corpus_root="export/corpus", out="export/runs/tables",
               readme="export/README.md", only=None, threads=2, progress=True) -> dict:
    """Train every cell (or those in ``only``) and collect the results.

    Returns
    -------
    dict
        ``name -> {table, row, kind, corpus, metrics..., thesis, epochs, max_frames,
        train_frames, seconds}``, as written to ``<out>/results.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name, (table, row, kind, sub, kw, thesis) in CELLS.items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        ckpt = train(kind, Path(corpus_root) / sub, out / name, epochs=epochs,
                     max_frames=max_frames, threads=threads, progress=progress, **kw)
        m = torch.load(ckpt, map_location="cpu", weights_only=False)["metrics"]
        n = len(np.load(Path(corpus_root) / sub / "frames_train.npy", mmap_mode="r"))
        old = results.get(name, {})
        results[name] = {"table": table, "row": row, "kind": kind, "corpus": sub, **m,
                         "thesis": thesis, "max_frames": max_frames,
                         "train_frames": min(n, max_frames or n),
                         "seconds": old.get("seconds", 0.0) + time.perf_counter() - t0}
        path.write_text(json.dumps(results, indent=1))
        if readme:
            _write_readme(Path(readme), markdown(results))
        print(f"{name}: epochs {m['epochs']}  valid SC {m['valid_sc']:.4f}  "
              f"test MSE {m['test_mse']:.3e}", flush=True)
    return results


def markdown(results: dict) -> str:
    """The three tables as markdown, thesis values beside ours."""
    lines = []
    for table, title in _TITLES.items():
        rows = [(n, r) for n, r in results.items() if r["table"] == table]
        if not rows:
            continue
        metric = "test MSE" if table == "3.3" else "valid SC"
        lines += [f"**{title}**", "",
                  f"| {'Activations' if table == '3.3' else 'Input append'} | thesis {metric} "
                  f"| ours {metric} | ours {'valid MSE' if table == '3.3' else 'test SC'} "
                  "| epochs | train frames | CPU time |", "|---|---|---|---|---|---|---|"]
        for _, r in rows:
            a, b = (r["test_mse"], r["valid_mse"]) if table == "3.3" else (r["valid_sc"], r["test_sc"])
            fmt = "{:.3e}" if table == "3.3" else "{:.3f}"
            lines.append(f"| {r['row']} | {fmt.format(r['thesis'])} | {fmt.format(a)} | "
                         f"{fmt.format(b)} | {r['epochs']} | {r['train_frames']} | "
                         f"{r['seconds'] / 60:.0f} min |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line: ``python -m export.tables [--epochs N] [--max-frames N] [--only NAME ...]``."""
    ap = argparse.ArgumentParser(prog="python -m export.tables", description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=10, help="epochs per cell (default 10)")
    ap.add_argument("--max-frames", type=int, default=20000,
                    help="train frames per cell, 0 = all (default 20000)")
    ap.add_argument("--corpus", default="export/corpus")
    ap.add_argument("--out", default="export/runs/tables")
    ap.add_argument("--readme", default="export/README.md", help="'' to leave it alone")
    ap.add_argument("--only", nargs="+", choices=list(CELLS), help="a subset of the cells")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-bar", action="store_true")
    a = ap.parse_args(argv)
    run_tables(a.epochs, a.max_frames or None, a.corpus, a.out, a.readme, a.only, a.threads,
               not a.no_bar)
    return 0


# --------------------------------------------------------------------------- helpers


def _write_readme(path: Path, table: str) -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
