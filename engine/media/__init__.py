"""Media I/O (torch-free; the app may import it): probe, frames, audio, mux. PyAV only."""

from engine.media.audio import downmix, read_audio, write_audio
from engine.media.frames import VideoReader, read_frames, read_frames_array
from engine.media.mux import mux
from engine.media.probe import probe

__all__ = [
    "VideoReader",
    "downmix",
    "mux",
    "probe",
    "read_audio",
    "read_frames",
    "read_frames_array",
    "write_audio",
]
