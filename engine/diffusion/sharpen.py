"""T's onset shaping at inference: EXPERIMENTAL, not shipped; the code lives in
engine.experimental.onsets (measurements there). Kept under this name for the engine that
calls it when a pack's T has an onset head."""

from engine.experimental.onsets import (  # noqa: F401
    DEFAULT_ONSET_MODE,
    INJECT_DECAY,
    ONSET_MODES,
    apply_onsets,
    pick_onsets,
    sharpen_layout,
)
