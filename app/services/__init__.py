"""Qt-side services: the engine thread, audio playback, frame decoding, media analysis."""
