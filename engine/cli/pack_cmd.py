"""``v2a pack list|verify|install|add-vocoder``: see, check, install and extend model packs
(docs/PACKS.md)."""

from __future__ import annotations

import argparse
import json
import sys


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _list(args: argparse.Namespace) -> int:
    from engine.packs import list_packs, pack_roots

    infos = list_packs(verify=not args.no_verify)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    if not infos:
        print("no packs installed; searched: " + ", ".join(str(r) for r in pack_roots()))
        return 0
    rows = [("NAME", "VERSION", "ENGINES", "SIZE", "VERIFIED", "LOCATION")]
    for i in infos:
        ok = "not checked" if i.verified is None else ("yes" if i.verified else "NO")
        rows.append((i.name, i.version, ",".join(i.engines) or "-", _size(i.size_bytes), ok, str(i.path)))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in range(len(widths))) + "  " + r[-1])
    for i in infos:
        if i.verified is False:
            print(f"  {i.name}: {i.problem}")
    return 0 if all(i.verified is not False for i in infos) else 2


def _verify(args: argparse.Namespace) -> int:
    from engine.packs import find_pack, read_manifest, verify_pack

    d = find_pack(args.pack)
    verify_pack(d)
    man = read_manifest(d)
    print(f"{man['name']} {man['version']}: OK ({len(man['files'])} files checked) at {d}")
    return 0


def _install(args: argparse.Namespace) -> int:
    from engine.cli.progress_bar import run_with_bar
    from engine.packs import classify_source, install_pack, read_manifest

    kind, loc = classify_source(args.source)
    if kind.startswith("url"):
        print(f"downloading from {loc}")

    def warn(msg: str) -> None:  # shown even with --quiet: it is about trust, not progress
        print(f"v2a: warning: {msg}", file=sys.stderr)

    job = install_pack(args.source, dest_root=args.dest, sha256=args.sha256, warn=warn)
    d = run_with_bar(job, quiet=args.quiet)
    man = read_manifest(d)
    print(f"installed {man['name']} {man['version']} at {d}")
    return 0


def _add_vocoder(args: argparse.Namespace) -> int:
    from engine.train.add_vocoder import add_vocoder

    d = add_vocoder(args.pack, args.vocoder, out_dir=args.output, in_place=args.in_place, name=args.name,
                    force=args.force)
    print(f"wrote pack {d} (vocoder: hifigan from {args.vocoder})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pack", help="list, verify and install model packs")
    sub = p.add_subparsers(dest="pack_command", metavar="ACTION", required=True)

    pl = sub.add_parser("list", help="installed packs (name, version, engines, size, location)")
    pl.add_argument("--no-verify", action="store_true", help="skip checksum verification")
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(func=_list)

    pv = sub.add_parser("verify", help="check a pack's checksums, file types and tensor shapes")
    pv.add_argument("pack", nargs="?", default=None, help="pack name or folder (default: starter)")
    pv.set_defaults(func=_verify)

    pi = sub.add_parser(
        "install",
        help="install from a folder, a .zip/.tar, an http(s) URL or a Hugging Face org/name",
    )
    pi.add_argument("source", help="folder | archive | URL to pack.json or archive | org/name[@rev]")
    pi.add_argument("--dest", default=None, help="pack folder to install into (default: user packs)")
    pi.add_argument("--sha256", default=None, metavar="HEX",
                    help="expected sha256 of the archive (or of pack.json for a folder / pack.json URL); "
                         "a mismatch installs nothing")
    pi.add_argument("--quiet", action="store_true", help="no progress bar")
    pi.set_defaults(func=_install)

    pa = sub.add_parser(
        "add-vocoder",
        help="copy a pack with a HiFi-GAN vocoder from a local folder (AudioLDM/AudioLDM2 vocoder/ or a trained run)",
    )
    pa.add_argument("pack", help="pack name or folder")
    pa.add_argument("vocoder", help="folder with config.json + model.safetensors (or diffusion_pytorch_model.safetensors)")
    pa.add_argument("-o", "--output", default=None, help="new pack folder (default: PACK-hifigan beside the pack)")
    pa.add_argument("--in-place", action="store_true", help="replace the input pack instead of writing a new one")
    pa.add_argument("--name", default=None, help="name of the new pack (default: its folder name)")
    pa.add_argument("--force", action="store_true", help="replace an existing pack at --output")
    pa.set_defaults(func=_add_vocoder)
