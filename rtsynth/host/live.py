"""A live session: open the backend, build the engine for its rate and period, run until Ctrl-C.

Shared by every instrument (CANNe, CANNe through ANNe, ANNe on live input):
the instrument only says how to build its engine for a rate and a period and
how to describe it in the start line. An engine with ``needs_input`` gets a
duplex stream (JACK ``in_1``, or a PortAudio input device).
"""

import contextlib
import faulthandler
import gc
import os
import signal
import sys
import threading
import time

from ..control import EventQueue
from ..errors import DeviceError
from .midi_ports import close_midi_inputs

__all__ = ["run_live", "STOP_TIMEOUT"]

#: seconds Ctrl-C waits for the backend to let go of the stream before leaving without it
STOP_TIMEOUT = 5.0


def run_live(build, describe, *, backend, jack_name="rtsynth", connect=False, device=None,
             input_device=None, midi_in=None, virtual_midi=False, sample_rate=None, block=None,
             model_rate=None, mapper=None, performance=None, out=None, duration=None,
             view=None):
    """Run one live session; return the exit status (0).

    Parameters
    ----------
    build : callable
        ``build(rate, block) -> engine`` (``process``/``apply``/``reset``, and
        ``feed`` when ``engine.needs_input``).
    describe : callable
        ``describe(engine, backend_description, rate, block) -> str``: the start line.
    backend : {'jack', 'portaudio'}
    model_rate : int, optional
        PortAudio's rate when none is given and the devices accept it
        (otherwise the output device's default rate).
    mapper : rtsynth.control.CommandMapper, optional
    performance : list of (float, bytes), optional
        Raw MIDI played from a thread once the stream runs (the demo).
    duration : float, optional
        Stop after this many seconds (tests, demos).
    view : callable, optional
        ``view(host, link, monitor, start_line, duration)``: a live view driven
        from the main thread while the stream plays (``--ui``; see
        :class:`rtsynth.host.ui_bridge.View`: its ``start()`` and ``close()``,
        when it has them, are called before the stream starts and at the end), fed through a
        :class:`~rtsynth.host.ui_link.UiLink` the host gets before it starts.

    Other parameters mirror ``rtsynth play``. Prints the start line and, at
    exit, the DSP load and the xrun count to ``out``.
    """
    from .interrupt import sigint_sets
    from .monitor import Monitor
    from .priority import helpers_below_audio
    from .runtime import realtime_python

    out = out or sys.stdout
    queue = EventQueue(4096)
    midi_ins = []
    if backend == "jack":
        host, rate, block, name = _open_jack(build, jack_name, connect, midi_in, sample_rate,
                                             block, mapper, queue)
    else:
        host, rate, block, name, midi_ins = _open_portaudio(
            build, device, input_device, midi_in, virtual_midi, sample_rate, block, model_rate,
            mapper, queue)
    line = describe(host.engine, name, rate, block)
    if getattr(host, "device_latency", None):
        line += f" + about {1000 * host.device_latency:.1f} ms of device buffering (PortAudio)"
    link = None
    if view is not None:
        from .ui_link import UiLink

        automation = getattr(host, "automation", None)
        names = [s.name for s in automation.specs] if automation is not None else []
        link = UiLink(names)
        link.configure(rate, block)
        if automation is not None:
            link.share_values(automation)  # the values the callback sets are the view's
        host.link = link  # before start: the callback writes it from the first block
        if hasattr(view, "start"):
            # its process forks from this (large) one and imports before the first block
            view.start(link)

    stop = threading.Event()
    dumps = _stacks_on_sigusr1()
    try:
        with realtime_python(), contextlib.ExitStack() as helpers:
            host.start()
            # the audio thread exists now: the threads sharing its GIL go just below it
            helpers.enter_context(helpers_below_audio())
            print(line, file=out, flush=True)
            gc.freeze()  # everything the callback touches exists now
            if performance is not None:
                threading.Thread(target=_player, args=(queue, performance, stop),
                                 daemon=True).start()
            watch = getattr(host, "midi_watch", None)
            try:
                # health, young-generation GC, model-fault warning, MIDI reconnects
                monitor = Monitor(host, [watch] if watch is not None else [])
                with sigint_sets(monitor.stop):  # Ctrl-C ends the loop, never half of it
                    if view is not None:
                        view(host, link, monitor, line, duration)  # the view runs the monitor
                    else:
                        monitor.run(duration)
            except KeyboardInterrupt:
                pass  # Ctrl-C is how a live session ends
    finally:
        stop.set()
        if hasattr(view, "close"):
            view.close()  # a view started for a stream that then failed to start
        stopped = _stop_within(host, STOP_TIMEOUT)
        close_midi_inputs(midi_ins)
        print(host.meter.report(rate), file=out, flush=True)
        if os.environ.get("RTSYNTH_DSP_TRACE"):  # per-block times, for the benchmarks
            host.meter.save(os.environ["RTSYNTH_DSP_TRACE"])
        if dumps:
            faulthandler.unregister(signal.SIGUSR1)
    if not stopped:
        if os.environ.get("RTSYNTH_HANG_STACKS"):  # tests: show what the stop waits for
            with contextlib.suppress(AttributeError, ValueError, RuntimeError, OSError):
                faulthandler.dump_traceback(all_threads=True)
        raise DeviceError(f"backend={backend}: expected the audio stream to stop within "
                          f"{STOP_TIMEOUT:.0f} s of the end of the session, found it still "
                          f"stopping; rtsynth left without waiting for it.")
    return 0


def _open_jack(build, jack_name, connect, midi_in, sample_rate, block, mapper, queue):
    from .jack_backend import JackHost, open_client
    from .runtime import warm_up

    client = open_client(jack_name)
    try:
        rate, period = client.samplerate, client.blocksize
        if sample_rate is not None and int(sample_rate) != rate:
            raise DeviceError(f"sample_rate={sample_rate}: expected the JACK server's rate, "
                              f"found the server runs at {rate} Hz (JACK sets it; rtsynth "
                              f"plays at any rate).")
        if block is not None and int(block) != period:
            raise DeviceError(f"block={block}: expected the JACK server's period, found the "
                              f"server runs with {period} frames (start jackd with -p {block}).")
        engine = build(rate, period)
        warm_up(engine, period)
        host = JackHost(engine, client, mapper=mapper, connect=connect, midi_in=midi_in,
                        queue=queue)
    except BaseException:
        client.close()
        raise
    ins = "in_1 -> " if host.in_1 is not None else ""
    return host, rate, period, f"jack ({client.name}: {ins}out_1/out_2, midi_in)"


def _open_portaudio(build, device, input_device, midi_in, virtual_midi, sample_rate, block,
                    model_rate, mapper, queue):
    import sounddevice as sd

    from .midi_ports import open_midi_inputs
    from .midi_watch import RtMidiWatch
    from .portaudio_backend import (PortAudioHost, pick_rate,
                                    resolve_input_device, resolve_output_device)
    from .runtime import warm_up

    dev = resolve_output_device(device)
    block = int(block or 256)
    rate = int(sample_rate) if sample_rate else pick_rate(dev, model_rate)
    engine = build(rate, block)
    in_dev = resolve_input_device(input_device) if getattr(engine, "needs_input", False) else None
    midi_ins, midi_ports = open_midi_inputs(queue, midi_in, virtual_midi)
    try:
        host = PortAudioHost(engine, dev, rate, block, queue=queue, mapper=mapper,
                             input_device=in_dev)
    except BaseException:
        close_midi_inputs(midi_ins)
        raise
    host.midi_watch = RtMidiWatch(midi_ins, midi_ports, queue)  # reopens ports that come back
    warm_up(engine, block)
    info = sd.query_devices(dev)
    where = info["name"] if in_dev is None else (f"{sd.query_devices(in_dev)['name']} -> "
                                                 f"{info['name']}")
    name = (f"portaudio ({where}, {sd.query_hostapis(info['hostapi'])['name']}; "
            f"midi: {', '.join(midi_ports) or 'none'})")
    return host, rate, block, name, midi_ins


def _stop_within(host, timeout):
    """``host.stop()`` from a helper thread; False if it has not returned after ``timeout`` s.

    Stopping a stream waits for the audio server (JACK's deactivate, PortAudio's
    stop), and a server that no longer answers must not keep a performer's
    Ctrl-C from ending the program.
    """
    def stop():
        try:
            host.stop()
        except Exception:  # a device that went away: the exit report still matters
            pass

    worker = threading.Thread(target=stop, name="rtsynth-stop", daemon=True)
    worker.start()
    worker.join(timeout)
    return not worker.is_alive()


def _stacks_on_sigusr1():
    """``kill -USR1 <pid>`` prints every thread's Python stack to stderr (a hang report)."""
    if not hasattr(signal, "SIGUSR1") or threading.current_thread() is not threading.main_thread():
        return False
    try:
        faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
    except (AttributeError, ValueError, RuntimeError, OSError):  # stderr without a file (tests)
        return False
    return True


def _player(queue, messages, stop):
    """Push ``(seconds, raw MIDI)`` messages into ``queue`` on time (a performance thread)."""
    from ..control import parse_message

    t0 = time.monotonic()
    for t, data in messages:
        delay = t0 + t - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        msg = parse_message(data)
        if msg is not None:
            queue.push(0, *msg)
