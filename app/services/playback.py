"""Audio playback through sounddevice (PortAudio). The audio clock is the master clock.

The PortAudio callback pulls samples from the current mix buffer; the play position is the
number of samples the device consumed minus its output latency, so the picture follows what
is heard. Without PortAudio or an output device the player still runs on the system clock
and ``problem`` says why there is no sound (the status bar shows it). A device that consumes
samples much faster than real time (e.g. the ALSA ``null`` sink) cannot be a clock; the
player notices and switches to the system clock, saying so.
"""

from __future__ import annotations

import threading
import time

import numpy as np

DEVICE_RATE = 48000
BLOCK = 512


class AudioPlayer:
    def __init__(self, sample_rate: int = DEVICE_RATE) -> None:
        self.sample_rate = sample_rate
        self._buf = np.zeros(0, np.float32)
        self._lock = threading.Lock()
        self._pos = 0  # next sample the callback will read
        self._consumed = 0  # samples handed to the device since start()
        self._start_pos = 0
        self._t0 = 0.0
        self._playing = False
        self._stream = None
        self._latency = 0.0
        self.level = 0.0  # peak of the last block (linear), read by the meter
        self.problem: str | None = None
        self.clock_source = "none"
        self._sd = None
        self._paced = True
        self._init_backend()

    # -- backend ------------------------------------------------------------------------------
    def _init_backend(self) -> None:
        try:
            import sounddevice as sd  # raises OSError when the PortAudio library is missing
        except OSError as e:
            self.problem = f"No sound: PortAudio is not installed ({e})"
            return
        except ImportError as e:
            self.problem = f"No sound: sounddevice is not installed ({e})"
            return
        try:
            dev = sd.query_devices(kind="output")
        except Exception as e:  # noqa: BLE001 - PortAudio reports missing devices many ways
            self.problem = f"No sound: no audio output device ({e})"
            return
        self._sd = sd
        self.device_name = str(dev.get("name", "default"))
        self.clock_source = "audio"

    @property
    def has_device(self) -> bool:
        return self._sd is not None

    def _open_stream(self) -> bool:
        if self._sd is None:
            return False
        if self._stream is not None:
            return True
        try:
            self._stream = self._sd.OutputStream(
                samplerate=self.sample_rate,
                channels=2,
                dtype="float32",
                blocksize=BLOCK,
                callback=self._callback,
            )
            self._latency = float(self._stream.latency)
        except Exception as e:  # noqa: BLE001
            self.problem = f"No sound: the output device could not be opened ({e})"
            self._sd = None
            self.clock_source = "system"
            return False
        return True

    def _callback(self, outdata, frames, time_info, status) -> None:  # PortAudio thread
        with self._lock:
            if not self._playing:
                outdata[:] = 0
                self.level = 0.0
                return
            buf = self._buf
            p = self._pos
            chunk = buf[p : p + frames]
            self._pos = p + frames
            self._consumed += frames
        n = len(chunk)
        outdata[:n, 0] = chunk
        outdata[:n, 1] = chunk
        outdata[n:] = 0
        self.level = float(np.max(np.abs(chunk))) if n else 0.0

    # -- transport ------------------------------------------------------------------------------
    def set_buffer(self, audio: np.ndarray) -> None:
        """Swap in a new mix (mute/solo/gain changed); playback continues at the same place."""
        with self._lock:
            self._buf = np.ascontiguousarray(audio, np.float32)

    def start(self, t: float) -> None:
        with self._lock:
            self._start_pos = self._pos = max(0, int(round(t * self.sample_rate)))
            self._consumed = 0
            self._playing = True
        self._t0 = time.monotonic()
        self._paced = True
        if self._open_stream():
            try:
                if not self._stream.active:
                    self._stream.start()
                self.clock_source = "audio"
            except Exception as e:  # noqa: BLE001
                self.problem = f"No sound: the output device failed to start ({e})"
                self.clock_source = "system"
        else:
            self.clock_source = "system"

    def stop(self) -> None:
        with self._lock:
            self._playing = False
        if self._stream is not None:
            try:
                self._stream.stop()
            except Exception:  # noqa: BLE001
                pass
        self.level = 0.0

    @property
    def playing(self) -> bool:
        return self._playing

    def position(self) -> float:
        """Seconds on the clip's time line that the listener hears now."""
        wall = time.monotonic() - self._t0
        start = self._start_pos / self.sample_rate
        if self.clock_source != "audio":
            return start + wall
        heard = self._consumed / self.sample_rate - self._latency
        if self._paced and heard > 1.5 * wall + 0.1:
            # A sink that swallows samples faster than real time cannot be the clock.
            self._paced = False
            self.clock_source = "system"
            self.problem = "Audio device does not play in real time (null sink?); picture runs on the system clock"
            return start + wall
        return start + max(0.0, heard)

    def close(self) -> None:
        self.stop()
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001
                pass
            self._stream = None
