"""Training figures for :mod:`export.train`: loss curves and frame reconstructions.

Both write a PNG atomically (temporary name, then rename) with matplotlib's
Agg backend, so they work without a display and never leave half files.
"""

import os

import numpy as np

__all__ = ["plot_loss", "plot_reconstructions"]


def plot_loss(path, history, config):
    """Train and validation loss per epoch, log y axis.

    Parameters
    ----------
    path : pathlib.Path
        PNG to write.
    history : dict
        ``train_loss`` and ``valid_loss`` lists (one value per epoch).
    config : dict
        Checkpoint config (``kind``, ``input_features``, ``activation``, ``loss``).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ep = np.arange(1, len(history["train_loss"]) + 1)
    ax.semilogy(ep, history["train_loss"], "o-", label="train")
    ax.semilogy(ep, history["valid_loss"], "s-", label="valid")
    ax.set(xlabel="epoch", ylabel=f"loss ({config['loss']})",
           title=f"{config['kind']} {config['input_features']} {config['activation']}")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    _save(fig, path)


def plot_reconstructions(path, frames, recon, config, index):
    """Input vs reconstructed magnitude (dB) against frequency, one panel per frame.

    Like thesis figures 4.3/4.4.

    Parameters
    ----------
    path : pathlib.Path
        PNG to write.
    frames, recon : numpy.ndarray
        Shape (n, n_bins): validation frames and the model's reconstructions.
    config : dict
        Checkpoint config (``sample_rate``, ``n_fft``).
    index : sequence of int
        The frames' row numbers in the validation split (panel titles).
    """
    plt = _pyplot()
    hz = np.arange(frames.shape[1]) * config["sample_rate"] / config["n_fft"]
    fig, axes = plt.subplots(len(frames), 1, figsize=(8, 2.2 * len(frames)), sharex=True,
                             squeeze=False)
    for ax, i, f, r in zip(axes[:, 0], index, frames, recon):
        ax.plot(hz, _db(f), lw=0.8, label="input")
        ax.plot(hz, _db(r), lw=0.8, label="reconstruction")
        ax.set(ylabel="dB", ylim=(-100, 5), title=f"validation frame {int(i)}")
    axes[0, 0].legend(loc="upper right")
    axes[-1, 0].set_xlabel("frequency (Hz)")
    fig.tight_layout()
    _save(fig, path)


# --------------------------------------------------------------------------- helpers


def _db(m):
    return 20 * np.log10(np.maximum(m, 1e-5))


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=90)
        os.replace(tmp, path)
    finally:
        _pyplot().close(fig)
