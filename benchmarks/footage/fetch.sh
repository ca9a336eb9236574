#!/usr/bin/env bash
# Real footage for benchmarks/bench_footage.py, from Debian's opencv-doc package (main,
# Apache-2.0 / BSD-3-Clause OpenCV sample data) into .cache/testmedia/opencv/ (gitignored).
# Idempotent. Needs apt-get (Debian) and dpkg; downloads ~96 MB once. Never run by tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=.cache/testmedia/opencv
FILES="Megamind.avi vtest.avi cup.mp4 box.mp4"
missing=0
for f in $FILES; do [ -f "$DEST/$f" ] || missing=1; done
[ "$missing" = 0 ] && exit 0
mkdir -p "$DEST" .cache/testmedia/_downloads
DL=$(cd .cache/testmedia/_downloads && pwd)
ls "$DL"/opencv-doc_*.deb >/dev/null 2>&1 || (cd "$DL" && apt-get download opencv-doc)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
dpkg -x "$(ls "$DL"/opencv-doc_*.deb | head -n1)" "$TMP"
DOC=$TMP/usr/share/doc/opencv-doc
cp "$DOC/examples/data/Megamind.avi" "$DOC/examples/data/vtest.avi" "$DEST/"
gunzip -c "$DOC/opencv4/html/cup.mp4.gz" > "$DEST/cup.mp4"
gunzip -c "$DOC/opencv4/html/box.mp4.gz" > "$DEST/box.mp4"
cp "$DOC/copyright" "$DEST/COPYRIGHT.opencv-doc"
echo "fetch: opencv-doc sample clips -> $DEST"
