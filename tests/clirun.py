"""Running the `rtsynth` command as a user does, and checking its one-sentence errors."""

import subprocess
import sys

__all__ = ["run_cli", "one_line_error"]


def run_cli(*args, env=None, cwd=None, timeout=300):
    """``python -m rtsynth ARGS`` in a child process (stdin closed); the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "rtsynth", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_error(r, returncode=1):
    """Assert ``r`` failed with exactly one ``rtsynth: error: ...`` line and no traceback;
    return that line."""
    assert r.returncode == returncode, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rtsynth: error: "), r.stderr
    return lines[0]
