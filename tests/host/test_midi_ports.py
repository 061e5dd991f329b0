"""Closing rtmidi inputs: the Python callbacks stop before any port closes."""

from rtsynth.host.midi_ports import close_midi_inputs


class _Input:
    """Records the calls an rtmidi input gets, in one log shared by all inputs."""

    def __init__(self, name, log, refuse=False):
        self.name, self.log, self.refuse = name, log, refuse

    def cancel_callback(self):
        self.log.append(("cancel", self.name))
        if self.refuse:
            raise RuntimeError("no callback set")

    def close_port(self):
        self.log.append(("close", self.name))


def test_callbacks_are_cancelled_before_any_port_closes():
    log = []
    ins = [_Input("a", log), _Input("b", log, refuse=True), _Input("c", log)]
    close_midi_inputs(ins, grace=0.0)
    assert log == [("cancel", "a"), ("cancel", "b"), ("cancel", "c"),
                   ("close", "a"), ("close", "b"), ("close", "c")]

