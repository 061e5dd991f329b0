"""Stopping a JACK client whose callback runs late never hangs.

JACK2's ``jack_deactivate`` cancels the client's process thread; cancelled
inside the Python callback (or while waiting for the interpreter lock to enter
it) the thread never ends and ``jack_deactivate`` never returns. That is what
a MIDI storm on a loaded machine did to ``rtsynth play canne`` at Ctrl-C (CI,
stop 15). Here a callback that takes 1.5 periods, while another thread keeps
the interpreter lock busy, is stopped again and again by :meth:`JackHost.stop`
in a child process; without the fix this hung within the first few tries.
"""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.jack

SCRIPT = textwrap.dedent("""
    import sys, threading, time
    import numpy as np
    import jack
    from rtsynth.host.jack_backend import JackHost

    class LateEngine:
        # each block takes 1.5 periods, giving up the interpreter lock often
        def __init__(self, rate, period):
            self.sample_rate, self.seconds = rate, 1.5 * period / rate
            self.a = np.random.default_rng(0).random((8, 4096))
        def process(self, out):
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < self.seconds:
                np.fft.rfft(self.a, axis=1)
                time.sleep(0)
            out[:] = 0.0
            return out
        def apply(self, cmd):
            pass

    server, tries = sys.argv[1], int(sys.argv[2])
    for i in range(tries):
        client = jack.Client(f"rt-stop-{i}", servername=server, no_start_server=True)
        host = JackHost(LateEngine(client.samplerate, client.blocksize), client)
        busy = [True]
        def contend():
            while busy[0]:
                sum(range(2000))
        t = threading.Thread(target=contend, daemon=True)
        host.start()
        t.start()
        time.sleep(0.15)
        host.stop()
        busy[0] = False
        t.join()
    print("stopped", tries, flush=True)
""")


def test_stop_while_the_callback_runs_late_never_hangs(jack_server):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, jack_server.name, "12"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"JackHost.stop() hung with a late callback; stdout: {out!r}, "
                    f"stderr: {err[-2000:]!r}")
    assert proc.returncode == 0 and "stopped 12" in out, (proc.returncode, out, err[-2000:])
