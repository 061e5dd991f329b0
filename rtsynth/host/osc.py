"""OSC input (``--osc PORT``): the mapping file's parameter names as OSC addresses.

Addresses (UDP, python-osc, bound to 127.0.0.1 unless told otherwise):

* ``/NAME value [smooth]`` sets a parameter in its units, e.g.
  ``/latent.0 0.5``, ``/knob.b 2.0``, ``/attack 0.2 0.05`` (the dots may be
  slashes: ``/latent/0``);
* ``/NAME/unit u [smooth]`` sets it from a control position 0..1 on the
  parameter's own curve (what a tablet fader sends);
* ``/program n`` recalls preset ``n`` of the bank.

The server thread only parses and pushes ``("set", ...)`` requests into the
session automation's inbox (a bounded non-blocking queue); the audio callback
drains it at the start of the next block. The engine is never called from
this thread. A bad message is counted (``errors``, ``last_error``), never
printed: a live session's terminal belongs to the start line or the view.
"""

import threading

from ..control.params import from_unit
from ..errors import DeviceError, RtsynthError

__all__ = ["OscInput", "DEFAULT_HOST"]

DEFAULT_HOST = "127.0.0.1"


class OscInput:
    """An OSC UDP server feeding a session's :class:`~rtsynth.host.controls.Controls`.

    Parameters
    ----------
    controls : rtsynth.host.controls.Controls
        Messages are dropped (counted) until the controls have an engine attached.
    port : int
        UDP port (0: any free port; see :attr:`port` after :meth:`start`).
    host : str
        Address to bind (default 127.0.0.1: this machine only).
    """

    def __init__(self, controls, port, host=DEFAULT_HOST):
        self.controls = controls
        self.host, self.port = host, int(port)
        self.received = 0
        self.errors = 0
        self.last_error = ""
        self._server = None
        self._thread = None

    def start(self):
        """Bind and serve from a daemon thread; return self."""
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer

        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._handle)
        try:
            self._server = BlockingOSCUDPServer((self.host, self.port), dispatcher)
        except OSError as e:
            raise DeviceError(f"osc={self.port}: expected a free UDP port on {self.host}, "
                              f"found {e.strerror or e}.") from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,),
                                        name="rtsynth-osc", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, address, *args):
        self.received += 1
        try:
            command = self.request(address, args)
        except (RtsynthError, IndexError, TypeError, ValueError) as e:
            self.errors += 1
            self.last_error = f"{address}: {e}"
            return
        inbox = self.controls.inbox
        if command is None or inbox is None or not inbox.push(command):
            self.errors += 1
            self.last_error = f"{address}: not delivered (no engine yet, or the queue is full)"

    def request(self, address, args):
        """The command an OSC message asks for (InputError naming the address when bad)."""
        automation = self.controls.automation
        if automation is None:
            return None
        parts = [p for p in address.split("/") if p]
        if parts == ["program"]:
            return ("program", int(args[0]))
        unit = bool(parts) and parts[-1] == "unit"
        name = ".".join(parts[:-1] if unit else parts)
        value = float(args[0])
        smooth = float(args[1]) if len(args) > 1 else 0.0
        if unit:
            automation.command(name, 0.0)  # InputError for an unknown name
            spec = next(s for s in automation.specs if s.name == name)
            value = from_unit(value, spec.lo, spec.hi, spec.curve)
        return automation.command(name, value, max(0.0, smooth))
