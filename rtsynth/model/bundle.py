"""Loading a model bundle: manifest, file hashes, ONNX sessions and their graph contract.

A bundle folder holds ``manifest.json``, ``decoder.onnx`` and optionally ``encoder.onnx``
(design.md, "Model bundle contract"). :func:`load_bundle` checks all of it before
anything plays, so the audio thread never meets a model that does not fit.
"""

import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rtsynth.errors import InputError, ModelError

from .manifest import Manifest, load_manifest

__all__ = ["ModelBundle", "Binding", "load_bundle"]

_FLOAT = "tensor(float)"


class Binding:
    """Preallocated input/output buffers bound to one session, for the audio callback.

    Write ``.input`` (batch, n_in) in place, call :meth:`run`, read ``.output``
    (batch, n_out); both float32 and shared with onnxruntime as ``OrtValue`` (no
    copy), so a run allocates no numpy arrays.
    """

    def __init__(self, session, in_name, out_name, batch, n_in, n_out):
        self.input = np.zeros((batch, n_in), np.float32)
        self.output = np.zeros((batch, n_out), np.float32)
        self._session = session
        self._io = session.io_binding()
        self._io.bind_ortvalue_input(in_name, ort.OrtValue.ortvalue_from_numpy(self.input))
        self._io.bind_ortvalue_output(out_name, ort.OrtValue.ortvalue_from_numpy(self.output))

    def run(self) -> np.ndarray:
        """Run the session on ``.input``; returns ``.output`` (filled in place)."""
        self._session.run_with_iobinding(self._io)
        return self.output


class ModelBundle:
    """A loaded, validated bundle. Build it with :func:`load_bundle`.

    Attributes
    ----------
    manifest : Manifest
    decoder_session, encoder_session : onnxruntime.InferenceSession
        ``encoder_session`` is None when the encoder was not loaded.
    """

    def __init__(self, manifest: Manifest, decoder_session, encoder_session=None):
        self.manifest = manifest
        self.decoder_session = decoder_session
        self.encoder_session = encoder_session

    def decode(self, z, out=None) -> np.ndarray:
        """Latent vectors -> magnitude frames.

        ``z`` is (batch, latent_dim) or (latent_dim,); the result is
        (batch, n_bins) or (n_bins,) float32, written into ``out`` when given.
        Allocates per call; the audio callback uses :meth:`decoder_binding`.
        """
        m = self.manifest
        return _run(self.decoder_session, "z", z, m.latent_dim, m.n_bins, out)

    def encode(self, features, out=None) -> np.ndarray:
        """Feature frames (batch, n_features) or (n_features,) -> latent (batch, latent_dim)."""
        m = self.manifest
        return _run(self._encoder(), "mag", features, m.n_features, m.latent_dim, out)

    def decoder_binding(self, batch=1) -> Binding:
        """Preallocated ``z`` -> ``mag`` buffers for allocation-free repeated decoding."""
        m = self.manifest
        return Binding(self.decoder_session, "z", "mag", batch, m.latent_dim, m.n_bins)

    def encoder_binding(self, batch=1) -> Binding:
        """Preallocated ``mag`` -> ``z`` buffers for allocation-free repeated encoding."""
        return Binding(self._encoder(), "mag", "z", batch, self.manifest.n_features,
                       self.manifest.latent_dim)

    def _encoder(self):
        if self.encoder_session is None:
            raise ModelError(f"{self.manifest.folder / 'encoder.onnx'}: expected an encoder "
                             f"session, found encoder=None (not listed or need_encoder=False).")
        return self.encoder_session


def load_bundle(folder, *, need_encoder=None, threads=1, variant=None) -> ModelBundle:
    """Load and validate the bundle in ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
    need_encoder : bool or None
        True: the encoder must be listed (effects); False: never load it;
        None: load it when the manifest lists it.
    threads : int
        onnxruntime intra-op threads per session (1 suits a real-time callback).
    variant : str, optional
        Load the files of a variant listed under ``variants`` in the manifest
        (e.g. ``'int8'``: dynamically quantized weights) in place of the
        fp32 ones; a graph the variant does not list stays fp32.

    Raises
    ------
    ModelError
        One sentence naming the file, the field, what was expected and what was found.
    """
    if not (isinstance(threads, int) and threads >= 1):
        raise InputError(f"expected threads to be an int >= 1, found threads={threads!r}.")
    folder = Path(folder)
    if not folder.is_dir():
        found = "a file" if folder.exists() else "nothing"
        raise ModelError(f"{folder}: expected a model bundle folder, found {found} there.")
    m = load_manifest(folder)
    if need_encoder and "encoder.onnx" not in m.files:
        raise ModelError(f"{m.path}: expected files to list encoder.onnx (need_encoder=True), "
                         f"found files={sorted(m.files)}.")
    if variant is not None and variant not in m.variants:
        raise ModelError(f"{m.path}: expected variants to list {variant!r}, "
                         f"found variants={sorted(m.variants)}.")
    chosen = {base: (base, sha) for base, sha in m.files.items()}
    chosen.update(m.variants.get(variant, {}))
    decoder = _open(m, *chosen["decoder.onnx"], ("z", m.latent_dim), ("mag", m.n_bins), threads)
    encoder = None
    if "encoder.onnx" in m.files and need_encoder is not False:
        encoder = _open(m, *chosen["encoder.onnx"], ("mag", m.n_features), ("z", m.latent_dim),
                        threads)
    return ModelBundle(m, decoder, encoder)


def _open(m, filename, want_sha, want_in, want_out, threads):
    """Hash-check, open and graph-check one ONNX file; returns its session."""
    path = m.folder / filename
    if not path.is_file():
        raise ModelError(f"{path}: expected the file listed in {m.path.name} files, "
                         f"found no such file.")
    data = path.read_bytes()  # hash the very bytes we load, so nothing can change in between
    sha = hashlib.sha256(data).hexdigest()
    if sha != want_sha:
        raise ModelError(f"{path}: expected sha256={want_sha} (from {m.path.name}), "
                         f"found sha256={sha}.")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: warnings would reach the audio host's stderr
    try:
        session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises several unrelated pybind types here
        raise ModelError(f"{path} is not a valid ONNX model: {_short(e)}.") from None
    _check_io(path, "input", session.get_inputs(), *want_in)
    _check_io(path, "output", session.get_outputs(), *want_out)
    _probe(path, session, want_in, want_out)
    return session


def _check_io(path, role, args, name, width):
    """One tensor, named ``name``, float32, shape [dynamic batch, width]."""
    if len(args) != 1 or args[0].name != name:
        raise ModelError(f"{path}: expected one {role} name={name!r}, "
                         f"found {role} names={[a.name for a in args]}.")
    arg = args[0]
    if arg.type != _FLOAT:
        raise ModelError(f"{path}: expected {role} {name} dtype={_FLOAT} (float32), "
                         f"found dtype={arg.type}.")
    shape = list(arg.shape)
    # a symbolic (str) or unknown (None) first dim is a dynamic batch axis
    if len(shape) != 2 or isinstance(shape[0], int) or shape[1] != width:
        raise ModelError(f"{path}: expected {role} {name} shape=[batch, {width}] (dynamic "
                         f"batch, width from manifest.json), found shape={shape}.")


def _probe(path, session, want_in, want_out):
    """Run a batch of 2 zeros: onnxruntime does not hold a graph to its declared shapes."""
    (name, n_in), (out_name, n_out) = want_in, want_out
    try:
        y = session.run(None, {name: np.zeros((2, n_in), np.float32)})[0]
    except Exception as e:
        raise ModelError(f"{path}: expected a run on {name} of shape (2, {n_in}) to succeed, "
                         f"found error={_short(e)!r}.") from None
    if y.shape != (2, n_out) or y.dtype != np.float32:
        raise ModelError(f"{path}: expected {out_name} of shape (2, {n_out}) float32 from a "
                         f"batch of 2, found {out_name}.shape={y.shape} dtype={y.dtype}.")


def _run(session, name, x, n_in, n_out, out):
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (1, 2) or x.shape[-1] != n_in:
        raise InputError(f"expected {name} of shape (batch, {n_in}) or ({n_in},), "
                         f"found {name}.shape={x.shape}.")
    y = session.run(None, {name: np.ascontiguousarray(x.reshape(-1, n_in))})[0]
    y = y[0] if x.ndim == 1 else y
    if out is None:
        return y
    np.copyto(out, y)  # raises on a shape that does not broadcast; casts like numpy's out=
    return out


def _short(e, limit=160):
    """onnxruntime's message without its '[ONNXRuntimeError] : 7 : INVALID_PROTOBUF :' prefix."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = text.rsplit(" : ", 1)[-1].rstrip(".")
    return text if len(text) <= limit else text[:limit - 3] + "..."
