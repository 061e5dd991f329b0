"""Parameter state and glides: ``("set", ...)`` requests in, engine commands out, per block.

Every host path (JACK, PortAudio, the offline renderer) passes the block's
timed commands through :meth:`Automation.run` before the engine sees them:

* ``("set", name, value, smooth)`` (from the mapper, OSC or a live view):
  with ``smooth`` 0 the engine command is emitted at once, at the request's
  sample; otherwise the parameter glides linearly from its current value to
  ``value`` over ``smooth`` seconds, one command per grid point. The grid is
  absolute (every ``grid`` samples since the stream began), so a render and a
  live run with other block sizes get the same commands at the same samples.
* a parameter the engine follows a known time late (``leads``: CANNe's
  latents crossfade in over a hop) glides up to that many samples ahead: a
  step sends the value due ``min(lead, elapsed)`` samples later (running at
  double speed until it is ``lead`` ahead), so the sound, not the command,
  follows the glide's line and arrives when the glide ends. The glide's course
  is fixed when its request arrives, so this looks ahead at nothing unknown.
* ``("program", n)`` recalls preset ``n`` (all its parameters at once).
* anything else passes through unchanged; an engine command for a
  parameter (``("wet", 0.5)`` from a live view, say) also updates its value
  and ends its glide.

It also keeps the value of every parameter as last sent (:meth:`get_param`,
:meth:`state`): the mirror a live view reads and a preset saves. The audio
thread writes it; other threads read single floats (never torn under the GIL).
"""

import numpy as np

from ..engine.smoothing import RAMP_SAMPLES

from .inbox import CommandQueue
from .params import find_spec, to_command

__all__ = ["Automation", "DEFAULT_GRID"]

#: samples between glide steps (2.7 ms at 48 kHz): finer than the CANNe control tick
#: (hop 512) and ANNe's frames; the engines ramp per-sample gains linearly over the same
#: length, so a glide of the volume or the dry/wet comes out as one continuous line
DEFAULT_GRID = RAMP_SAMPLES


class Automation:
    """Glides and parameter state for one engine.

    Parameters
    ----------
    specs : list of ParamSpec
        The parameters (with the ranges the mapper used: the same model's).
    sample_rate : int
    presets : list of dict, optional
        ``presets[n]`` = ``{name: value}`` recalled by program change ``n``.
    grid : int
        Samples between glide steps.
    leads : dict, optional
        ``{command head: samples}``: how late the engine's sound follows that
        command (an engine's ``glide_lead``); its parameters glide that far ahead.
    """

    def __init__(self, specs, sample_rate, presets=None, grid=DEFAULT_GRID, leads=None):
        self.specs = list(specs)
        self.sample_rate = int(sample_rate)
        self.grid = int(grid)
        n = len(self.specs)
        self._slot = {s.name: i for i, s in enumerate(self.specs)}
        self._by_command = {}  # command head -> slots by the command's index
        for i, s in enumerate(self.specs):
            slots = self._by_command.setdefault(s.command, [])
            slots.extend([-1] * (s.index + 1 - len(slots)))
            slots[s.index] = i
        self.values = np.array([s.default for s in self.specs], dtype=np.float64)
        self._start = np.zeros(n)      # glide: value at its start
        self._end = np.zeros(n)        # glide: target
        self._t0 = np.zeros(n, np.int64)
        self._len = np.ones(n, np.int64)
        self._lead = np.array([int((leads or {}).get(s.command, 0)) for s in self.specs],
                              np.int64)
        self._active = [0] * n         # slots gliding, first _n_active of them
        self._n_active = 0
        self._gliding = [False] * n
        self._inboxes = []
        self._programs = []
        self.clock = 0                 # samples since the stream began
        self._t = 0                    # absolute time of the block being run
        self._out = None
        self.set_presets(presets or [])

    # ------------------------------------------------------------ control thread
    def inbox(self, capacity=256) -> CommandQueue:
        """A new queue for one producer thread (OSC, a live view); create before the stream starts."""
        q = CommandQueue(capacity)
        self._inboxes.append(q)
        return q

    def command(self, name, value, smooth=0.0) -> tuple:
        """The ``("set", ...)`` request for parameter ``name`` (InputError when unknown)."""
        if name not in self._slot:
            find_spec(self.specs, name)  # raises with the list of names
        return ("set", name, float(value), float(smooth))

    def get_param(self, name) -> float:
        """The value last sent for ``name`` (approximate while it glides)."""
        if name not in self._slot:
            find_spec(self.specs, name)
        return float(self.values[self._slot[name]])

    def state(self) -> dict:
        """Every parameter's current value, by name (a snapshot for presets)."""
        return {s.name: float(v) for s, v in zip(self.specs, self.values)}

    def set_state(self, values):
        """Set the mirror (before the stream starts: the engine must already hold these)."""
        for name, v in values.items():
            if name in self._slot:
                self.values[self._slot[name]] = float(v)

    def mirror_into(self, array):
        """Keep the value mirror in ``array`` from now on (shape ``(len(specs),)``, float64;
        a live view's shared memory), starting from the current values; returns it.
        Before the stream starts."""
        if array.shape != self.values.shape or array.dtype != np.float64:
            raise ValueError(f"expected a float64 array of shape {self.values.shape}, found "
                             f"{array.dtype} {array.shape}")
        array[:] = self.values
        self.values = array
        return array

    def set_presets(self, presets):
        """Program change ``n`` recalls ``presets[n]`` (``{name: value}``); commands built now."""
        programs = []
        for p in presets:
            programs.append(tuple((self._slot[n], to_command(self.specs[self._slot[n]], v), v)
                                  for n, v in p.items() if n in self._slot))
        self._programs = programs

    # ------------------------------------------------------------ audio thread
    def run(self, events, n, out):
        """Turn one block's timed commands into engine commands; return ``out``.

        ``events``: ``(offset, command)`` sorted by offset (offsets in
        ``0..n-1``); ``out``: an :class:`~rtsynth.host.runtime.EventSlots`
        (``clear()``, an ``offset`` attribute, called with each command). Inbox
        commands apply at offset 0.
        """
        out.clear()
        self._out = out
        self._t = self.clock
        out.offset = 0
        for q in self._inboxes:
            if len(q):
                q.drain(self._take)
        for k in range(len(events)):
            off, cmd = events[k]
            off = max(0, off)
            self._steps(off)
            out.offset = off
            self._take(cmd)
        self._steps(n)
        self.clock = self._t + n
        self._out = None
        return out

    def _take(self, cmd):
        head = cmd[0]
        out = self._out
        if head == "set":
            slot = self._slot.get(cmd[1], -1)
            if slot < 0:
                return  # not a parameter of this engine
            value, smooth = cmd[2], cmd[3]
            spec = self.specs[slot]
            length = int(smooth * self.sample_rate)
            if length < 1:
                self._stop(slot)
                v = spec.clamp(value)
                self.values[slot] = v
                out(to_command(spec, v))
                return
            self._start[slot] = self.values[slot]
            self._end[slot] = spec.clamp(value)
            self._t0[slot] = self._t + out.offset
            self._len[slot] = length
            if not self._gliding[slot]:
                self._gliding[slot] = True
                self._active[self._n_active] = slot
                self._n_active += 1
        elif head == "program":
            if cmd[1] < len(self._programs):
                for slot, engine_cmd, v in self._programs[cmd[1]]:
                    self._stop(slot)
                    self.values[slot] = v
                    out(engine_cmd)
        else:
            slots = self._by_command.get(head)
            if slots is not None:
                self._follow(slots, cmd)
            out(cmd)

    def _follow(self, slots, cmd):
        """Mirror an engine command sent for a parameter (the inverse of to_command)."""
        indexed = len(cmd) == 3
        i = cmd[1] if indexed else 0
        if not 0 <= i < len(slots) or slots[i] < 0:
            return
        slot = slots[i]
        spec = self.specs[slot]
        v = cmd[2] if indexed else cmd[1]
        if spec.command == "latent" or spec.command == "knob":
            v = spec.lo + (spec.hi - spec.lo) * v
        self._stop(slot)
        self.values[slot] = float(v)

    def _steps(self, until):
        """Emit every glide step on the grid from the current offset up to ``until``."""
        if not self._n_active:
            return
        out, grid, t = self._out, self.grid, self._t
        first = -(-(t + out.offset) // grid) * grid - t  # the first grid point from here
        for off in range(first, until, grid):
            now = t + off
            out.offset = off
            i = 0
            while i < self._n_active:
                slot = self._active[i]
                done = now - self._t0[slot]
                if done <= 0:
                    i += 1
                    continue
                done += min(done, self._lead[slot])
                span = self._len[slot]
                if done >= span:
                    v = self._end[slot]
                else:
                    v = self._start[slot] + (self._end[slot] - self._start[slot]) * done / span
                self.values[slot] = v
                out(to_command(self.specs[slot], v))
                if done >= span:
                    self._stop(slot)  # swaps the last active slot into i
                else:
                    i += 1
            if not self._n_active:
                break

    def _stop(self, slot):
        if not self._gliding[slot]:
            return
        self._gliding[slot] = False
        for i in range(self._n_active):
            if self._active[i] == slot:
                self._n_active -= 1
                self._active[i] = self._active[self._n_active]
                return

