"""The thesis autoencoders in PyTorch (only export/ imports torch).

* :class:`ANNe` (chapter 3): 1025-512-256-128-64 encoder, mirrored decoder,
  no bias terms (biases left a noise floor under latent gains), ReLU everywhere
  except a sigmoid at the 64-neuron latent and at the output ("hybrid");
  ``activation="sigmoid"``/``"relu"`` give the other two rows of table 3.3.
* :class:`CANNe` (chapter 4): 17 fully connected layers, widths
  in-1000-512-256-128-64-32-16-8-16-32-64-128-256-512-1024-n_bins, ReLU
  everywhere (latent and output included), biases as in appendix A.2.

Both expose ``encoder`` and ``decoder`` submodules, exported as separate ONNX
graphs (design.md, model contract).
"""

from torch import nn

__all__ = ["ANNe", "CANNe", "build_model", "count_weights", "thesis_init_", "he_init_", "ANNE_HIDDEN", "CANNE_ENCODER",
           "CANNE_DECODER"]

ANNE_HIDDEN = (512, 256, 128, 64)
CANNE_ENCODER = (1000, 512, 256, 128, 64, 32, 16, 8)
CANNE_DECODER = (16, 32, 64, 128, 256, 512, 1024)


class ANNe(nn.Module):
    """ANNe autoencoder. ``forward(features) -> (mag, z)``.

    Parameters
    ----------
    n_features : int
        Encoder input width (n_bins for plain magnitude frames).
    n_bins : int
        Decoder output width.
    activation : {'hybrid', 'sigmoid', 'relu'}
        Thesis table 3.3 variants; 'hybrid' is the shipped one.
    bias : bool
        The thesis uses none.
    """

    def __init__(self, n_features=1025, n_bins=1025, activation="hybrid", bias=False):
        super().__init__()
        hidden = ANNE_HIDDEN
        act = {"hybrid": nn.ReLU, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]
        edge = nn.ReLU if activation == "relu" else nn.Sigmoid
        self.encoder = _mlp([n_features, *hidden], act, edge, bias)
        self.decoder = _mlp([hidden[-1], *reversed(hidden[:-1]), n_bins], act, edge, bias)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z


class CANNe(nn.Module):
    """CANNe autoencoder. ``forward(features) -> (mag, z)``; latent width 8.

    Parameters
    ----------
    n_features : int
        Encoder input width (2*n_bins for ``mag+diff1``).
    n_bins : int
        Decoder output width (2049 at n_fft 4096).
    """

    def __init__(self, n_features=4098, n_bins=2049, bias=True):
        super().__init__()
        self.encoder = _mlp([n_features, *CANNE_ENCODER], nn.ReLU, nn.ReLU, bias)
        self.decoder = _mlp([CANNE_ENCODER[-1], *CANNE_DECODER, n_bins], nn.ReLU, nn.ReLU, bias)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z


def build_model(kind, n_features, n_bins, **kwargs):
    """An ANNe or CANNe by name (``kind`` as in the manifest)."""
    return {"anne": ANNe, "canne": CANNe}[kind](n_features=n_features, n_bins=n_bins, **kwargs)


def thesis_init_(model, std=0.15):
    """Initialise every weight and bias as appendix A's TensorFlow code did.

    ``tf.truncated_normal(stddev=0.15)``: normal, redrawn beyond two standard
    deviations. Returns ``model``.
    """
    for p in model.parameters():
        nn.init.trunc_normal_(p, std=std, a=-2 * std, b=2 * std)
    return model


def he_init_(model, bias=0.01):
    """He (Kaiming) normal weights and small positive biases.

    Keeps activation variance constant through a deep ReLU stack so that few
    units start (and stay) dead; PyTorch's default init shrinks activations
    layer by layer, and CANNe's 8-unit bottleneck cannot afford dead units.
    Returns ``model``.
    """
    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
            if mod.bias is not None:
                nn.init.constant_(mod.bias, bias)
    return model


def _mlp(widths, act, last, bias):
    # Linear layers with `act` after each hidden layer and `last` at the end
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b, bias=bias))
        layers.append(last() if i == len(widths) - 2 else act())
    return nn.Sequential(*layers)


def count_weights(model):
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


if __name__ == "__main__":  # pragma: no cover - quick size check
    for m in (ANNe(), CANNe()):
        print(type(m).__name__, count_weights(m), "weights; decoder", count_weights(m.decoder))
