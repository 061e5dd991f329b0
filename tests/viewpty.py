"""The performer view's real process under a pseudo-terminal, for tests and benchmarks."""

import os
import pty
import struct
import subprocess
import sys
import threading

__all__ = ["ViewProcess"]


class ViewProcess:
    """``python -m rtsynth.host.ui_process`` on a ``cols`` x ``rows`` pty, as ``play --ui``
    starts it; everything it writes to the terminal is collected in ``chunks``.

    ``link`` (a :class:`~rtsynth.host.ui_link.UiLink`) is shared with it, as
    ``play --ui`` shares its own. ``send(obj)`` writes one JSON line to it;
    ``close()`` ends it (the caller sends ``{"quit": true}`` first for a clean
    exit) and releases the descriptors.
    """

    def __init__(self, cols=100, rows=30, cwd=None, link=None):
        import fcntl
        import termios
        self._to_r, self.to_w = os.pipe()
        self.from_r, self._from_w = os.pipe()
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rtsynth.host.ui_process", str(self._to_r),
             str(self._from_w)],
            pass_fds=(self._to_r, self._from_w) + ((link.fd,) if link is not None else ()),
            stdin=slave,
            stdout=slave, stderr=slave, env=env, cwd=cwd)
        os.close(self._to_r), os.close(self._from_w), os.close(slave)
        self.chunks = []
        self._stop = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def send(self, obj):
        import json
        os.write(self.to_w, json.dumps(obj).encode() + b"\n")

    @property
    def written(self):
        """Bytes written to the terminal so far."""
        return sum(len(c) for c in list(self.chunks))

    def close(self):
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_w), os.close(self.from_r)

    def _drain(self):
        while not self._stop.is_set():
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.chunks.append(data)
