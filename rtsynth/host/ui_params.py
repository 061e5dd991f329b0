"""The live view's parameter list: which parameters it shows, their values, and moving them.

The values shown are the engine's, read back at each snapshot (what the
sound follows, whoever moved it: the view, a MIDI knob, a preset), so the
bars never drift from the sound. Moves become command tuples
(:func:`rtsynth.control.params.to_command`) handed to ``send`` (the
:class:`~rtsynth.host.ui_link.UiLink` command queue); nothing here touches
the engine's state.
"""

import time

from ..control.params import from_unit, param_specs, to_command, to_unit

__all__ = ["ParamBoard", "view_specs", "STEP", "FINE_STEP", "PENDING_TIME"]

#: one arrow press moves a parameter by this much of its travel (on its own curve) ...
STEP = 0.02
#: ... or this much with shift held
FINE_STEP = 0.002
#: a value the view sent stands until the engine shows it, or this long (s)
PENDING_TIME = 0.5


def view_specs(instrument, manifest, fx_manifest=None):
    """The parameters the view shows: CANNe's (plus the effect's with ``--fx``) or ANNe's.

    Per-neuron gains (``gain.N``, 64 of them) are left to mapping files and
    OSC: a wall of 64 bars would bury the knobs.
    """
    specs = param_specs(instrument, manifest)
    if instrument == "canne" and fx_manifest is not None:
        specs = specs + param_specs("anne", fx_manifest)
    return [s for s in specs if s.command != "gain"]


class ParamBoard:
    """The parameters of a view: the selected row, the values, moves by key or mouse.

    Parameters
    ----------
    specs : list of rtsynth.control.params.ParamSpec
    send : callable
        ``send(command) -> bool``: queue a command tuple for the engine.
    """

    def __init__(self, specs, send):
        self.specs = list(specs)
        self.send = send
        self.values = [s.default for s in self.specs]
        self.selected = 0
        self.sent = 0  # commands accepted by send
        self.refused = 0  # commands refused (a full queue)
        self._pending = {}  # row -> (value sent, until): not yet applied by the callback

    @property
    def current(self):
        """The selected spec."""
        return self.specs[self.selected]

    def update(self, state):
        """Take the session's values (``{name: value}``, parameter units, from the engine).

        A value the view sent and the audio callback has not applied yet stands
        (otherwise two quick arrow presses would step from the same old value).
        """
        now = time.monotonic()
        for i, spec in enumerate(self.specs):
            v = state.get(spec.name)
            if v is None:
                continue
            if i in self._pending:
                sent, until = self._pending[i]
                if abs(v - sent) > 1e-9 * max(spec.hi - spec.lo, 1.0) and now < until:
                    continue
                del self._pending[i]
            self.values[i] = v

    def select(self, delta):
        """Move the selection by ``delta`` rows (wrapping)."""
        self.selected = (self.selected + delta) % len(self.specs)

    def unit(self, i):
        """Row ``i``'s position 0..1 along its travel (for the bar)."""
        s = self.specs[i]
        return to_unit(self.values[i], s.lo, s.hi, s.curve)

    def nudge(self, steps, fine=False, row=None):
        """Move a row (default: the selected one) by ``steps`` arrow presses; send it.

        A float moves :data:`STEP` (or :data:`FINE_STEP`) of its travel per
        press along its own curve; a toggle or a mode moves one choice.
        """
        i = self.selected if row is None else row
        s = self.specs[i]
        if s.kind != "float":
            return self.set_value(i, self.values[i] + steps)
        u = self.unit(i) + steps * (FINE_STEP if fine else STEP)
        return self.set_value(i, from_unit(u, s.lo, s.hi, s.curve))

    def set_unit(self, i, u):
        """Set row ``i`` to position ``u`` (0..1) of its travel (a mouse click on its bar)."""
        s = self.specs[i]
        if s.kind != "float":
            return self.set_value(i, round(s.lo + (s.hi - s.lo) * min(1.0, max(0.0, u))))
        return self.set_value(i, from_unit(u, s.lo, s.hi, s.curve))

    def set_value(self, i, value):
        """Set row ``i`` to ``value`` (parameter units, clamped); send its command."""
        s = self.specs[i]
        self.values[i] = s.clamp(value)
        if self.send(to_command(s, self.values[i])):
            self.sent += 1
            self._pending[i] = (self.values[i], time.monotonic() + PENDING_TIME)
            return True
        self.refused += 1
        return False

    def label(self, i):
        """Row ``i``'s value as text: a choice's name, on/off, or the number and unit."""
        s, v = self.specs[i], self.values[i]
        if s.kind == "enum" and s.choices:
            return s.choices[int(v)]
        if s.kind == "toggle":
            return "on" if v >= 0.5 else "off"
        text = f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return text + (f" {s.unit}" if s.unit else "")
