"""First-run and environment checks: clear messages with the way forward, never a crash.

The studio calls :func:`startup_messages` once the window is up and shows each message
(status bar / a dismissable banner / the log); :func:`gpu_message` is for later, when the
engine thread reports which device it picked (torch is never imported here, so the window
opens fast and the GUI thread stays torch-free).  Every check is defensive: a check that
itself fails becomes a message, not an exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INFO, WARNING, ERROR = "info", "warning", "error"


@dataclass(frozen=True)
class Message:
    """One thing the user should know. ``action`` says what to do about it."""

    key: str  # stable id: "first-run", "no-audio-device", "no-gpu", "no-pack", ...
    severity: str  # INFO | WARNING | ERROR
    title: str
    text: str
    action: str = ""

    def __str__(self) -> str:
        return f"{self.title}: {self.text}" + (f" {self.action}" if self.action else "")


# --------------------------------------------------------------------------- audio


def _query_output_device() -> dict[str, Any]:
    import sounddevice as sd  # PortAudio; raises OSError if the library itself is missing

    return dict(sd.query_devices(kind="output"))


def audio_message(query: Callable[[], dict[str, Any]] | None = None) -> Message | None:
    """None when a default output device exists; else why there is no sound and what to do."""
    query = query or _query_output_device
    try:
        dev = query()
    except OSError as exc:  # libportaudio not found
        return Message(
            "no-audio-device", WARNING, "No sound playback",
            f"the audio library (PortAudio) could not be loaded ({exc}). Generation and export "
            "work normally; only listening inside the app is off.",
            "Install PortAudio (Debian/Ubuntu: sudo apt install libportaudio2) and restart.",
        )
    except Exception as exc:  # noqa: BLE001 - sounddevice.PortAudioError and friends
        return Message(
            "no-audio-device", WARNING, "No sound playback",
            f"no audio output device was found ({exc}). Generation and export work normally; "
            "only listening inside the app is off.",
            "Connect or enable an output device (on Linux check that PipeWire/PulseAudio is "
            "running), then restart V2A Studio. Exported files can be played in any player.",
        )
    if not dev or int(dev.get("max_output_channels", 0)) < 1:
        return Message(
            "no-audio-device", WARNING, "No sound playback",
            "the default audio device has no output channels. Generation and export work "
            "normally; only listening inside the app is off.",
            "Choose an output device in your system's sound settings, then restart V2A Studio.",
        )
    return None


# --------------------------------------------------------------------------- GPU


def gpu_message(device: str, detail: str = "") -> Message | None:
    """Message for the device the engine thread picked (``"cpu"``, ``"cuda:0"``, ``"mps"``).

    The engine thread reports the device after torch loads; the studio passes it here.
    ``detail`` may carry the reason (e.g. "CUDA driver too old", "out of GPU memory").
    """
    dev = (device or "cpu").lower()
    if dev.startswith(("cuda", "mps", "xpu")):
        return None
    why = f" ({detail})" if detail else ""
    return Message(
        "no-gpu", INFO, "Running on the CPU",
        f"no usable GPU was found{why}. The starter pack is made for this and generates a "
        "10-second clip in seconds; large packs will be slow.",
        "For a GPU: install the NVIDIA driver (CUDA 12/13 capable) and restart; the device can "
        "be chosen in the generation panel.",
    )


# --------------------------------------------------------------------------- packs


def _installed_packs() -> list[Any]:
    from engine.api import list_packs  # torch-free: reads pack.json files only

    return list_packs(verify=False)


def pack_message(list_fn: Callable[[], Iterable[Any]] | None = None) -> Message | None:
    """None when at least one readable pack is installed; else how to get one."""
    try:
        packs = list(list_fn() if list_fn else _installed_packs())
    except Exception as exc:  # noqa: BLE001 - a broken pack folder must not stop the app
        packs, problem = [], str(exc)
    else:
        problem = ""
    usable = [p for p in packs if not getattr(p, "problem", "")]
    if usable:
        return None
    try:
        from engine.api import bundled_packs_dir, user_packs_dir

        where = f"{bundled_packs_dir()} and {user_packs_dir()}"
    except Exception:  # noqa: BLE001
        where = "the program's resources/packs folder and your packs folder"
    broken = "; ".join(f"{p.name}: {p.problem}" for p in packs if getattr(p, "problem", ""))
    detail = f" Found but unusable: {broken}." if broken else (f" ({problem})" if problem else "")
    return Message(
        "no-pack", ERROR, "No model pack installed",
        f"no sound-generation model was found in {where}.{detail} You can still open clips, "
        "paint layouts, play and export, but not generate sound.",
        "Install one with: v2a pack install <folder | archive | URL | org/name> — or reinstall "
        "V2A Studio, which ships the starter pack.",
    )


# --------------------------------------------------------------------------- first run


def is_first_run(settings_file: Path | None = None) -> bool:
    """True until the studio has written its settings file once."""
    if settings_file is None:
        from engine.api import settings_file as default_settings

        settings_file = default_settings()
    return not settings_file.exists()


def first_run_message() -> Message:
    """Where models, caches, settings, autosaves and logs live (shown once, and in About)."""
    from engine.api import describe_paths as describe

    lines = "; ".join(f"{k}: {v}" for k, v in describe().items())
    return Message(
        "first-run", INFO, "Welcome to V2A Studio",
        f"files live here — {lines}.",
        "Open a clip with File › Open (or drop one on the window) to begin. Set V2A_HOME to "
        "keep everything in one folder instead.",
    )


def mark_first_run_done(settings_file: Path | None = None) -> None:
    """Create the settings file if absent (so the welcome shows once). Never raises."""
    try:
        if settings_file is None:
            from engine.api import settings_file as default_settings

            settings_file = default_settings()
        if not settings_file.exists():
            settings_file.parent.mkdir(parents=True, exist_ok=True)
            settings_file.write_text(json.dumps({}, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass  # read-only home: the welcome shows again next time, which is harmless


def startup_messages(
    *,
    audio_query: Callable[[], dict[str, Any]] | None = None,
    list_packs: Callable[[], Iterable[Any]] | None = None,
    settings_file: Path | None = None,
) -> list[Message]:
    """Everything to tell the user at start-up, most severe first. Never raises.

    (The GPU message comes later from :func:`gpu_message`, once the engine thread knows.)
    """
    out: list[Message] = []
    for check in (lambda: pack_message(list_packs), lambda: audio_message(audio_query)):
        try:
            m = check()
        except Exception as exc:  # noqa: BLE001 - belt and braces: checks must not crash start-up
            m = Message("check-failed", WARNING, "A start-up check failed", str(exc))
        if m is not None:
            out.append(m)
    try:
        if is_first_run(settings_file):
            out.append(first_run_message())
    except Exception:  # noqa: BLE001
        pass
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    return sorted(out, key=lambda m: order.get(m.severity, 3))


# --------------------------------------------------------------------------- About box


def app_version() -> str:
    """The installed version; in a frozen bundle (no dist metadata) read the bundled pyproject."""
    try:
        from importlib.metadata import version

        return version("v2a-studio")
    except Exception:  # noqa: BLE001 - PackageNotFoundError, or broken metadata
        import tomllib

        try:
            from engine.api import resources_root

            pyproject = resources_root().parent / "pyproject.toml"
            return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
        except Exception:  # noqa: BLE001
            return "unknown"


_PACK_DATA_KEYS = ("license", "data_license", "data_licenses", "training_data", "data", "attribution")
_LICENSE_NAMES = ("LICENSE", "LICENCE", "DATA", "ATTRIBUTION", "CREDITS", "NOTICE")


def _license_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.upper().startswith(_LICENSE_NAMES))


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(_plain(v) for v in value)
    return str(value)


def about_text(extra: dict[str, str] | None = None) -> str:
    """Plain text for the About box: version, packs and the licenses of their training data,
    bundled media licenses, and where files live. ``extra`` adds lines (e.g. Qt version)."""
    lines = [f"V2A Studio {app_version()}",
             "Generate synchronized sound for silent video, and paint its timing.", ""]
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    try:
        from engine.api import list_packs, read_manifest

        packs = list_packs(verify=False)
    except Exception as exc:  # noqa: BLE001
        packs, read_manifest = [], None
        lines.append(f"Model packs: could not be listed ({exc})")
    if packs:
        lines.append("Model packs:")
    for p in packs:
        lines.append(f"  {p.name} {p.version} ({p.path})")
        try:
            man = read_manifest(p.path) if read_manifest else {}
        except Exception:  # noqa: BLE001
            man = {}
        for key in _PACK_DATA_KEYS:
            if man.get(key):
                lines.append(f"    {key.replace('_', ' ')}: {_plain(man[key])}")
        for f in _license_files(Path(p.path)):
            lines.append(f"    see {f}")
    try:
        from engine.api import resources_root

        root = resources_root()
        media = [f for d in (root / "licenses", root / "sample", root / "samples") for f in _license_files(d)]
        if media:
            lines.append("Bundled media and data licenses:")
            lines += [f"  {f}" for f in media]
    except Exception:  # noqa: BLE001
        pass
    try:
        from engine.api import describe_paths as describe

        lines.append("Files:")
        lines += [f"  {k}: {v}" for k, v in describe().items()]
    except Exception:  # noqa: BLE001
        pass
    return "\n".join(lines)
