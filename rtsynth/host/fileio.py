"""Small helpers the host modules share for reading and writing files and reporting errors."""

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import InputError

__all__ = ["one_line", "current_umask", "atomic_path", "make_folder", "wav_writer", "open_audio", "check_out",
           "SUBTYPES"]

#: WAV sample formats offered
SUBTYPES = ("FLOAT", "PCM_24")


def one_line(exc):
    """An exception's message squeezed onto one line (for one-sentence errors)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def current_umask():
    """The process umask (read by setting it, then putting it back).

    Temporary files from ``mkstemp`` are owner-only; giving the final file
    ``0o666 & ~umask`` makes it look like any other file the user writes.
    """
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_folder(path, option):
    """Create the folder ``path`` (and its parents) if needed; return it as a Path.

    Raises
    ------
    InputError
        One sentence naming ``option`` (the command line's name for it) and why.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{option}={str(path)!r}: expected a folder that can be created, "
                         f"found {e.strerror or e}.") from None
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary file name beside ``path``; rename it to ``path`` if the block succeeds.

    An error or an interrupt inside the block removes the temporary file, so
    ``path`` is either the complete new file or untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def wav_writer(path, rate, channels=1, subtype="FLOAT"):
    """A ``soundfile.SoundFile`` writing the WAV ``path`` through :func:`atomic_path`, or
    None when ``path`` is None.

    Raises
    ------
    InputError
        A subtype not in :data:`SUBTYPES`, or the write failed (one sentence).
    """
    import soundfile as sf

    if subtype not in SUBTYPES:
        raise InputError(f"subtype={subtype!r}: expected one of {', '.join(SUBTYPES)}.")
    if path is None:
        yield None
        return
    try:
        with atomic_path(path) as tmp, sf.SoundFile(tmp, "w", samplerate=rate, channels=channels,
                                                    format="WAV", subtype=subtype) as f:
            yield f
    except (OSError, sf.SoundFileError, RuntimeError) as e:
        raise InputError(f"out={str(path)!r}: expected a writable file, found the write "
                         f"failed ({one_line(e)}).") from None


def open_audio(path, name="in"):
    """Open a sound file for reading (a ``soundfile.SoundFile``); errors are one sentence.

    Raises
    ------
    InputError
        Missing file, a folder, data libsndfile cannot read, or no samples.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise InputError(f"{name}={str(path)!r}: expected an existing audio file, found no such "
                         f"file")
    if not path.is_file():
        raise InputError(f"{name}={str(path)!r}: expected an audio file, found a folder or "
                         f"special file")
    try:
        f = sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        raise InputError(f"{name}={str(path)!r}: expected an audio file (WAV, FLAC, ...), found "
                         f"data libsndfile cannot read ({one_line(e)})") from None
    if f.frames == 0:
        f.close()
        raise InputError(f"{name}={str(path)!r}: expected at least one audio sample, found an "
                         f"empty file")
    return f


def check_out(path, suffixes, name):
    """Fail before any work when ``path`` (an output file) cannot be written."""
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{name}={str(path)!r}: expected a file name ending in "
                         f"{' or '.join(suffixes)}, found {path.suffix or 'no extension'!r}.")
    if path.is_dir():
        raise InputError(f"{name}={str(path)!r}: expected a file path, found a folder.")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{name}={str(path)!r}: expected an existing folder to write into, "
                         f"found no folder {str(parent)!r}.")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{name}={str(path)!r}: expected a writable folder, found "
                         f"{str(parent)!r} read-only.")
