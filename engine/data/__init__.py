"""Training data: the Foley library, rendered paired clips, the feature cache (issue 3).

Layout of the data root (``$V2A_DATA`` or ``./data``, never in git)::

    debs/                      downloaded .deb packages (apt-get download)
    src/<package>/             unpacked packages (dpkg -x); 0ad audio unzipped beside
    sfx/manifest.jsonl         one row per cleaned recording (see docs/INTERFACES.md)
    sfx/<class>/<id>.flac      16 kHz mono FLAC, trimmed, loudness-normalised
    clips/<split>/<id>.mp4     rendered paired clips (+ <id>.json events, <id>.flac exact mix)
    cache/<sha>.npz            decoded features per clip, keyed by content hash

Only ``engine.data.dataset`` imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path

SPLITS = ("train", "val", "test")


def data_root(root: str | Path | None = None) -> Path:
    """The data root: the argument, else ``$V2A_DATA``, else ``./data``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("V2A_DATA", "").strip()
    return Path(env).expanduser() if env else Path("data")
