#!/usr/bin/env bash
# Real footage for benchmarks/bench_footage.py, from Debian packages (main) into
# .cache/testmedia/ (gitignored). Idempotent; downloads ~150 MB once. Never run by tests.
#   opencv-doc         Megamind.avi, vtest.avi, cup.mp4, box.mp4 (Apache-2.0 / BSD-3-Clause)
#   planetblupi-common the game's 14 animated movies with their sound effects (GPL-3+)
#   python3-mecavideo  balle1-vp9.avi, a thrown ball filmed at ~185 fps with sound (CC-BY-SA-3.0)
#   forensics-samples-files  two phone videos with sound (CC-BY-SA-4.0)
set -euo pipefail
cd "$(dirname "$0")/../.."
MEDIA=.cache/testmedia
mkdir -p "$MEDIA/_downloads"
DL=$(cd "$MEDIA/_downloads" && pwd)

# unpack <package> <dest dir> <marker file>: the package's files into a temp dir, for the caller
unpack() {
  local pkg=$1
  ls "$DL/${pkg}"_*.deb >/dev/null 2>&1 || (cd "$DL" && apt-get download "$pkg")
  TMP=$(mktemp -d)
  dpkg -x "$(ls "$DL/${pkg}"_*.deb | head -n1)" "$TMP"
}

DEST=$MEDIA/opencv
if [ ! -f "$DEST/box.mp4" ]; then
  unpack opencv-doc
  mkdir -p "$DEST"
  DOC=$TMP/usr/share/doc/opencv-doc
  cp "$DOC/examples/data/Megamind.avi" "$DOC/examples/data/vtest.avi" "$DEST/"
  gunzip -c "$DOC/opencv4/html/cup.mp4.gz" > "$DEST/cup.mp4"
  gunzip -c "$DOC/opencv4/html/box.mp4.gz" > "$DEST/box.mp4"
  cp "$DOC/copyright" "$DEST/COPYRIGHT.opencv-doc"
  rm -rf "$TMP"
  echo "fetch: opencv-doc sample clips -> $DEST"
fi

DEST=$MEDIA/planetblupi
if [ ! -f "$DEST/win129.mkv" ]; then
  unpack planetblupi-common
  mkdir -p "$DEST"
  cp "$TMP"/usr/share/planetblupi/movie/*.mkv "$DEST/"
  cp "$TMP/usr/share/doc/planetblupi-common/copyright" "$DEST/COPYRIGHT.planetblupi"
  rm -rf "$TMP"
  echo "fetch: Planet Blupi movies -> $DEST"
fi

DEST=$MEDIA/mecavideo
if [ ! -f "$DEST/balle1-vp9.avi" ]; then
  unpack python3-mecavideo
  mkdir -p "$DEST"
  cp "$TMP/usr/share/pymecavideo/data/video/balle1-vp9.avi" "$DEST/"
  cp "$TMP/usr/share/doc/python3-mecavideo/copyright" "$DEST/COPYRIGHT.mecavideo"
  rm -rf "$TMP"
  echo "fetch: pymecavideo ball clip -> $DEST"
fi

DEST=$MEDIA/forensics
if [ ! -f "$DEST/movie-hello.mp4" ]; then
  unpack forensics-samples-files
  mkdir -p "$DEST"
  O=$TMP/usr/share/forensics-samples/original-files
  cp "$O/movie1/VID_20191220_170832.mp4" "$O/movie2/movie-hello.mp4" "$DEST/"
  cp "$TMP/usr/share/doc/forensics-samples-files/copyright" "$DEST/COPYRIGHT.forensics-samples"
  rm -rf "$TMP"
  echo "fetch: forensics-samples phone videos -> $DEST"
fi
