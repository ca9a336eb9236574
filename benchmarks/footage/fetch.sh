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

# get <package> <dest dir> <path in the package>...: copy those files (gunzipped when they end
# in .gz) and the package's copyright file into .cache/testmedia/<dest>, unless all are there
get() {
  local pkg=$1 dest=$MEDIA/$2 f name missing=0
  shift 2
  for f in "$@"; do name=$(basename "$f" .gz); [ -f "$dest/$name" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  ls "$DL/${pkg}"_*.deb >/dev/null 2>&1 || (cd "$DL" && apt-get download "$pkg")
  local tmp
  tmp=$(mktemp -d)
  dpkg -x "$(ls "$DL/${pkg}"_*.deb | head -n1)" "$tmp"
  mkdir -p "$dest"
  for f in "$@"; do
    case "$f" in
      *.gz) gunzip -c "$tmp/$f" > "$dest/$(basename "$f" .gz)" ;;
      *) cp "$tmp/$f" "$dest/" ;;
    esac
  done
  cp "$tmp/usr/share/doc/$pkg/copyright" "$dest/COPYRIGHT.$pkg"
  rm -rf "$tmp"
  echo "fetch: $pkg -> $dest"
}

OCV=usr/share/doc/opencv-doc
get opencv-doc opencv "$OCV/examples/data/Megamind.avi" "$OCV/examples/data/vtest.avi" \
  "$OCV/opencv4/html/cup.mp4.gz" "$OCV/opencv4/html/box.mp4.gz"
BLUPI=""
for m in history2 play101 play103 play105 play107 play108 play110 play113 play116 play118 \
  play119 play124 win005 win129; do
  BLUPI="$BLUPI usr/share/planetblupi/movie/$m.mkv"
done
# shellcheck disable=SC2086  # the list is word-split on purpose
get planetblupi-common planetblupi $BLUPI
get python3-mecavideo mecavideo usr/share/pymecavideo/data/video/balle1-vp9.avi
get forensics-samples-files forensics \
  usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4 \
  usr/share/forensics-samples/original-files/movie2/movie-hello.mp4
