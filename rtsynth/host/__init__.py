"""Host layer: the only part of rtsynth that touches files and audio/MIDI devices.

Submodules are imported explicitly (``from rtsynth.host.resynth import ...``)
so that loading one backend never drags in another's native libraries.
"""

__all__ = []
