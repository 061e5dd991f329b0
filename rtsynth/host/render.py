"""Offline rendering: a MIDI file (or timed commands) through CANNe to a WAV file.

The loop is the live one: each block of ``block`` samples gets the commands
that fall inside it, with offsets relative to the block, and
:func:`rtsynth.engine.schedule.render_with_events` applies them at their exact
sample. An offline render is therefore the reference for what the live host
plays with the same events and the same block size (and, the engine being
block-size independent, with any block size).
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .fileio import SUBTYPES, check_out, wav_writer
from .interrupt import interruption_point
from .plot import write_spectrogram
from .runtime import EventSlots, default_automation

__all__ = ["RenderResult", "render_midi", "render_events", "build_synth", "progress_bar",
           "check_block", "MAX_TAIL_SECONDS", "SUBTYPES"]

#: longest release tail rendered after the last event
MAX_TAIL_SECONDS = 5.0
#: progress bar only for renders longer than this (seconds of audio)
_PROGRESS_MIN_SECONDS = 20.0
_SILENCE = 1e-5


@dataclass(frozen=True)
class RenderResult:
    """What one offline render produced.

    Attributes
    ----------
    out_path : pathlib.Path or None
        The WAV written (None when rendering to memory only).
    sample_rate, n_samples : int
    n_events, n_notes : int
        Commands applied, of which note-ons.
    peak : float
        Largest absolute sample.
    nonfinite : int
        Non-finite values the engine's guards replaced (0 for a healthy model).
    tail_samples : int
        Samples rendered after the last event (release tail).
    plot_path : pathlib.Path or None
    elapsed : float
        Wall-clock seconds the render took.
    audio : ndarray or None
        The samples, when ``keep_audio`` was asked for.
    """

    out_path: Path
    sample_rate: int
    n_samples: int
    n_events: int
    n_notes: int
    peak: float
    nonfinite: int
    tail_samples: int
    plot_path: Path = None
    elapsed: float = 0.0
    audio: np.ndarray = None

    @property
    def seconds(self):
        return self.n_samples / self.sample_rate


def build_synth(bundle, *, sample_rate=None, block=256, latents=None, **engine_options):
    """Load ``bundle`` (folder or ModelBundle) and build a CanneSynth for ``block``-sample blocks."""
    from ..engine.canne import CanneSynth
    from ..model import load_bundle

    if isinstance(bundle, (str, os.PathLike)):
        bundle = load_bundle(bundle)
    block = check_block(block)
    # an option left unset on the command line (None) takes the engine's default
    engine_options = {k: v for k, v in engine_options.items() if v is not None}
    engine_options.setdefault("max_block", max(block, 8192))
    if latents is not None:
        engine_options["latents"] = latents
    return CanneSynth(bundle, sample_rate=sample_rate, **engine_options)


def render_events(engine, events, *, block=256, out=None, max_tail=MAX_TAIL_SECONDS,
                  progress=False, automation=None):
    """Drive ``engine`` through ``events`` block by block, then its release tail.

    Parameters
    ----------
    engine : rtsynth.engine.canne.CanneSynth
    events : list of (int, tuple)
        ``(sample_time, command)`` sorted by time.
    block : int
        Samples per block, as a live host's period.
    out : callable, optional
        Called with each finished block (a view that is reused: copy it to keep
        it); when None the whole render is returned as an array.
    max_tail : float
        Seconds of release tail at most after the last event (then
        ``engine.latency_samples`` more, rounded up to blocks).
    progress : bool
        Show a tqdm bar.
    automation : rtsynth.control.Automation, optional
        Turns ``("set", ...)`` requests and program changes into engine
        commands, block by block, exactly as the live hosts do.

    Returns
    -------
    (ndarray or None, int, int)
        The audio (when ``out`` is None), the number of samples, the tail length.
    """
    from ..engine.schedule import render_with_events

    block = check_block(block)
    rate = engine.sample_rate
    end = (events[-1][0] + 1) if events else 0
    end = max(end, 0)
    n_main = -(-end // block) * block
    max_tail_blocks = -(-int(max_tail * rate) // block)
    chunks = [] if out is None else None
    buf = np.zeros(block, dtype=np.float32)
    chunk_events = []
    engine_events = EventSlots(8192)  # the automation's output for one block
    bar = progress_bar(n_main / rate) if progress else None
    # after the end, one latency more: a chained effect's delayed tail is kept
    flush = -(-engine.latency_samples // block)
    i, pos, tail, ending = 0, 0, 0, False
    try:
        while True:
            if pos >= n_main:
                ending = ending or tail >= max_tail_blocks or (
                    tail and engine.active_voices == 0 and float(np.max(np.abs(buf))) < _SILENCE)
                if ending:
                    if flush == 0:
                        break
                    flush -= 1
                tail += 1
            interruption_point()  # Ctrl-C under deferred_sigint stops here, between blocks
            chunk_events.clear()
            stop = pos + block
            while i < len(events) and events[i][0] < stop:
                chunk_events.append((events[i][0] - pos, events[i][1]))
                i += 1
            todo = (chunk_events if automation is None
                    else automation.run(chunk_events, block, engine_events))
            render_with_events(engine, buf, todo, block=block)
            if out is None:
                chunks.append(buf.copy())
            else:
                out(buf)
            pos = stop
            if bar is not None and pos <= n_main and (pos // block) % 64 == 0:
                bar.n = round(pos / rate, 1)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    audio = np.concatenate(chunks) if chunks else (np.zeros(0, np.float32) if out is None else None)
    return audio, pos, tail * block


def progress_bar(seconds, desc="render"):
    """A tqdm bar counting seconds of audio, or None for renders under 20 s."""
    if seconds < _PROGRESS_MIN_SECONDS:
        return None
    from tqdm import tqdm

    return tqdm(total=round(seconds, 1), unit="s", desc=desc, leave=False,
                bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}]")


def check_block(block):
    """``block`` as an int; one sentence unless it is an integer 1..65536."""
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or not 1 <= block <= 65536:
        raise InputError(f"block={block!r}: expected an integer 1..65536.")
    return int(block)


def render_midi(bundle, midi, out_path, *, sample_rate=None, block=256, latents=None,
                plot=None, progress=True, subtype="FLOAT", keep_audio=False, mapper=None,
                fx=None, fx_options=None, map_path=None, preset=None, **engine_options):
    """Render a MIDI file (or timed commands) through CANNe into a WAV file.

    Parameters
    ----------
    bundle : str, os.PathLike or rtsynth.model.ModelBundle
        The CANNe bundle (folder or loaded).
    midi : str, os.PathLike or list of (int, tuple)
        A Standard MIDI File, or ``(sample_time, command)`` pairs at the
        render's sample rate.
    out_path : str or os.PathLike or None
        The WAV to write (via a temporary file in the same folder and a
        rename; an interrupted render leaves no file). None: render only
        (with ``keep_audio``).
    sample_rate : int, optional
        Output rate (default: the model's).
    block : int
        Block size (the live period this render stands for).
    latents : array_like, optional
        Starting latents (latent units); default the bundle's.
    plot : str or os.PathLike, optional
        Also write a spectrogram PNG here.
    progress : bool
        tqdm bar for long renders.
    subtype : {'FLOAT', 'PCM_24'}
    keep_audio : bool
        Return the samples in the result.
    mapper : rtsynth.control.CommandMapper, optional
        For MIDI files (default: the packaged CANNe map, plus the ANNe map with ``fx``).
    fx : str, os.PathLike or rtsynth.model.ModelBundle, optional
        An ANNe effect bundle the synth plays through (``render canne --fx``).
        The render is latency-compensated: its first sample is the synth's
        first sample through the effect, and the effect's tail is kept.
    fx_options : dict, optional
        Passed to :func:`rtsynth.host.effect_render.build_effect` (knobs, preset, ...).
    map_path : str or os.PathLike, optional
        A mapping TOML file for the MIDI file's controls (default: the packaged maps).
    preset : str, optional
        A preset name (the model's bank) or a preset TOML file to start from.
    **engine_options
        Passed to :class:`rtsynth.engine.canne.CanneSynth` (hop, polyphony, mode, ...).

    Returns
    -------
    RenderResult
    """
    from .controls import build_controls
    from .performance import read_midi

    t0 = time.perf_counter()
    out_path = None if out_path is None else Path(out_path)
    if out_path is not None:
        check_out(out_path, (".wav",), "out")
    plot = None if plot is None else Path(plot)
    if plot is not None:
        check_out(plot, (".png",), "plot")
    engine = build_synth(bundle, sample_rate=sample_rate, block=block, latents=latents,
                         **engine_options)
    if fx is not None:
        from ..engine.chain import Chain
        from .effect_render import build_effect

        engine = Chain(engine, build_effect(fx, sample_rate=engine.sample_rate, block=block,
                                            **(fx_options or {})))
    if mapper is None or map_path is not None or preset is not None:
        effect = getattr(engine, "effect", None)
        controls = build_controls("canne", getattr(engine, "source", engine).manifest,
                                  effect and effect.manifest, map_path=map_path, preset=preset)
        controls.attach(engine)
        mapper = mapper or controls.mapper
        automation = controls.automation
    else:
        automation = default_automation(mapper, engine.sample_rate, engine)
    rate = engine.sample_rate
    if isinstance(midi, (str, os.PathLike)):
        events = read_midi(midi, rate, mapper)
    else:
        events = sorted(((int(t), c) for t, c in midi), key=lambda e: e[0])
    n_notes = sum(1 for _, c in events if c[0] == "note_on")

    peak = [0.0]
    skip = [engine.latency_samples]  # latency compensation: the effect's delay is dropped
    keep = [] if (keep_audio or plot is not None) else None

    def sink(buf):
        if skip[0]:
            cut = min(skip[0], buf.shape[0])
            skip[0] -= cut
            buf = buf[cut:]
        if buf.shape[0]:
            peak[0] = max(peak[0], float(np.max(np.abs(buf))))
            if writer is not None:
                writer.write(buf)
            if keep is not None:
                keep.append(buf.copy())

    with wav_writer(out_path, rate, 1, subtype) as writer:
        _, n, tail = render_events(engine, events, block=block, out=sink, progress=progress,
                                   automation=automation)
    audio = np.concatenate(keep) if keep else (np.zeros(0, np.float32) if keep is not None else None)
    if plot is not None:
        write_spectrogram(audio, rate, plot, title=_title(midi, out_path))
    return RenderResult(out_path, rate, n - engine.latency_samples, len(events), n_notes, peak[0],
                        engine.nonfinite_count, tail, plot, time.perf_counter() - t0,
                        audio if keep_audio else None)


def _title(midi, out_path):
    src = Path(midi).name if isinstance(midi, (str, os.PathLike)) else "performance"
    return f"CANNe render of {src}" + (f" -> {out_path.name}" if out_path else "")
