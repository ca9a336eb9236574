#!/usr/bin/env bash
# CI only (runs as root on a Debian machine): give PortAudio an output so the playback test
# runs against a real device instead of skipping. An ALSA "null" sink consumes samples like a
# sound card would. Never run by ./run.sh on a user's machine.
set -uo pipefail
[ "$(id -u)" = 0 ] || exit 0
command -v apt-get >/dev/null || exit 0
if ! ldconfig -p | grep -q libportaudio.so.2; then
  apt-get install -y -q libportaudio2 >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libportaudio2 >/dev/null 2>&1; } ||
    echo "ci_system_deps: could not install libportaudio2; the playback test will skip" >&2
fi
if [ ! -f /etc/asound.conf ]; then
  cat > /etc/asound.conf <<'CONF'
# Null ALSA device so PortAudio has an output on headless CI machines (V2A Studio tests).
pcm.!default {
    type plug
    slave.pcm "nullout"
}
pcm.nullout {
    type null
}
CONF
fi
exit 0
