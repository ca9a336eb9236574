"""Model packs: ``pack.json`` + safetensors, located, verified, loaded and installed.

Importing this package is torch-free (the app lists and verifies packs); only
``load_weights`` and ``write_pack`` import torch/safetensors, inside the call.
See docs/PACKS.md.
"""

from __future__ import annotations

from engine.packs.format import (
    FORMAT_VERSION,
    MANIFEST,
    check_state_dict,
    load_weights,
    pack_size,
    read_manifest,
    safetensors_header,
    sha256_file,
    verify_pack,
    write_pack,
)
from engine.packs.install import classify_source, hf_manifest_url, install_pack
from engine.packs.locations import (
    DEFAULT_PACK,
    PackInfo,
    default_install_root,
    embedded_root,
    find_pack,
    list_packs,
    pack_roots,
    sampling_defaults,
    user_root,
)

__all__ = [
    "DEFAULT_PACK",
    "FORMAT_VERSION",
    "MANIFEST",
    "PackInfo",
    "check_state_dict",
    "classify_source",
    "default_install_root",
    "embedded_root",
    "find_pack",
    "hf_manifest_url",
    "install_pack",
    "list_packs",
    "load_weights",
    "pack_roots",
    "sampling_defaults",
    "pack_size",
    "read_manifest",
    "safetensors_header",
    "sha256_file",
    "user_root",
    "verify_pack",
    "write_pack",
]
