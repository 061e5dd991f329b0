"""A session's controls: parameters, mapping, presets and glides for one engine.

``play`` and ``render`` build one :class:`Controls` from the command line
(``--map``, ``--preset``) and the model bundles: the mapper the MIDI input
goes through, the preset bank program changes recall, the start preset, and,
once the engine exists, the :class:`~rtsynth.control.Automation` that keeps
every parameter's value (read by a live view and saved as a preset).
"""

from dataclasses import dataclass, field
from pathlib import Path

from ..control import Automation, CommandMapper, instrument_mapping, load_mapping, param_specs
from ..control.params import MODES, to_command
from ..control.presets import BANK_FILE, Preset, find_preset, load_presets, save_preset
from ..errors import InputError

__all__ = ["Controls", "build_controls", "read_state", "model_presets"]


@dataclass
class Controls:
    """Everything that turns control input into engine commands for one session.

    Attributes
    ----------
    specs : list of ParamSpec
    mapper : rtsynth.control.CommandMapper
    presets : list of Preset
        The bank: program change ``n`` recalls ``presets[n]``.
    start : Preset or None
        Applied to the engine before it plays (``--preset``).
    automation : rtsynth.control.Automation or None
        Made by :meth:`attach` once the engine exists.
    """

    specs: list
    mapper: CommandMapper
    presets: list = field(default_factory=list)
    start: Preset = None
    instrument: str = "canne"
    automation: Automation = None
    inbox: object = None

    def attach(self, engine):
        """Apply the start preset to a new ``engine`` and make its automation; return it.

        The engine is reset afterwards, so smoothed parameters start at the
        preset's values rather than gliding there.
        """
        if self.start is not None:
            for cmd in preset_commands(self.start, self.specs):
                engine.apply(cmd)
            engine.reset()
        self.automation = Automation(self.specs, engine.sample_rate,
                                     presets=[p.values for p in self.presets],
                                     leads=getattr(engine, "glide_lead", None))
        self.automation.set_state(read_state(engine, self.specs))
        self.inbox = self.automation.inbox()  # OSC's queue, made before the stream starts
        self.mapper.automation = self.automation  # the host runs the mapper's output through it
        return self.automation

    def save(self, path, name, description=""):
        """Save the current parameter state as preset ``name`` in the bank at ``path``."""
        if self.automation is None:
            raise InputError(f"preset={name!r}: expected a running engine to save, found none.")
        preset = Preset(name, self.automation.state(), description)
        return save_preset(path, preset, self.specs, self.instrument)


def build_controls(instrument, manifest, fx_manifest=None, map_path=None, preset=None):
    """The controls of ``instrument`` ('canne' or 'anne') for a bundle's manifest.

    Parameters
    ----------
    fx_manifest : Manifest, optional
        CANNe through this ANNe bundle: both parameter sets and default maps.
    map_path : path, optional
        A mapping TOML file (default: the packaged map(s)).
    preset : str, optional
        A preset name in the model's bank, or a preset TOML file (its first
        preset starts, its presets become the bank).
    """
    specs = param_specs(instrument, manifest)
    if fx_manifest is not None:
        specs += param_specs("anne", fx_manifest)
    mapping = (load_mapping(map_path, specs) if map_path is not None
               else instrument_mapping(instrument, fx_manifest is not None, specs))
    mapper = CommandMapper(mapping, specs)
    bank = model_presets(manifest, specs)
    start = None
    if preset is not None:
        path = Path(preset)
        if path.suffix == ".toml" or path.is_file():
            bank = load_presets(path, specs)
            if not bank:
                raise InputError(f"{path}: expected at least one [[preset]], found none.")
            start = bank[0]
        else:
            start = find_preset(bank, preset, _bank_name(manifest))
    return Controls(specs, mapper, bank, start, instrument)


def model_presets(manifest, specs):
    """A model's preset bank: its folder's ``presets.toml``, else the manifest's latent presets."""
    path = manifest.folder / BANK_FILE
    if path.is_file():
        return load_presets(path, specs)
    names = {s.name for s in specs}
    return [Preset(name, {f"latent.{i}": float(v) for i, v in enumerate(values)
                          if f"latent.{i}" in names})
            for name, values in (manifest.presets or {}).items()]


def preset_commands(preset, specs):
    """The engine commands that recall ``preset``."""
    by_name = {s.name: s for s in specs}
    return [to_command(by_name[n], v) for n, v in preset.values.items() if n in by_name]


def read_state(engine, specs):
    """Every parameter's value as ``engine`` (a CanneSynth, an AnneEffect or a Chain) holds it."""
    source = getattr(engine, "source", engine)
    synth = source if hasattr(source, "note_on") else None
    effect = getattr(engine, "effect", engine if hasattr(engine, "knobs") else None)
    state = {}
    if synth is not None:
        latents = synth.latents
        state.update({f"latent.{i}": float(v) for i, v in enumerate(latents)})
        state.update(zip(("attack", "decay", "sustain", "release"), synth.adsr))
        state["volume"] = synth.volume
        state["mode"] = float(MODES.index(synth.mode))
    if effect is not None:
        state.update({f"knob.{k}": g for k, g in zip("abcde", effect.knobs)})
        state.update({f"gain.{n}": float(g) for n, g in enumerate(effect.neuron_gains)})
        state["wet"] = effect.wet
        state["bypass"] = float(effect.bypass)
    names = {s.name for s in specs}
    return {k: v for k, v in state.items() if k in names}


def _bank_name(manifest):
    path = manifest.folder / BANK_FILE
    return str(path) if path.is_file() else f"{manifest.path} (presets)"
