"""Where the recordings come from: Debian packages, fetched at set-up time, with their licenses.

``fetch_packages`` runs ``apt-get download`` + ``dpkg -x`` into ``<root>/debs`` and
``<root>/src/<package>`` (0 A.D. keeps its audio inside ``public.zip``; only the audio folder
is unzipped). ``iter_source_files`` yields every audio file with the license and attribution
text that applies to it, read from the package's own copyright file / README credits.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import V2AError

AUDIO_EXT = (".ogg", ".oga", ".wav", ".flac")


@dataclass(frozen=True)
class Package:
    name: str
    license: str  # SPDX-ish id of the package's sound files (overridden per file where known)
    attribution: str
    homepage: str


PACKAGES: dict[str, Package] = {
    p.name: p
    for p in [
        Package("minetest-data", "CC-BY-SA-3.0", "Minetest Game contributors (per-file credits below)", "https://www.minetest.net"),
        Package("lugaru-data", "CC-BY-SA-3.0", "Wolfire Games, Lugaru (c) 2003, 2010", "https://osslugaru.gitlab.io"),
        Package("sonic-pi-samples", "CC0", "Sonic Pi sample authors via freesound.org", "https://sonic-pi.net"),
        Package("wesnoth-1.16-data", "GPL-2.0-or-later", "The Battle for Wesnoth project contributors", "https://www.wesnoth.org"),
        Package("widelands-data", "GPL-2.0-or-later", "The Widelands Development Team 2002-2019", "https://www.widelands.org"),
        Package("tuxpaint-stamps-default", "GPL-2.0-only", "Tux Paint stamps, Bill Kendrick and contributors 2002-2022", "https://tuxpaint.org"),
        Package("freedroidrpg-data", "GPL-2.0-or-later", "FreedroidRPG developers (Johannes Prix et al.)", "https://www.freedroid.org"),
        Package("0ad-data", "CC-BY-SA-3.0", "Wildfire Games (http://www.wildfiregames.com/), 0 A.D.", "https://play0ad.com"),
    ]
}

# Licenses under which trained weights may be redistributed (with attribution / share-alike
# notices carried by the pack). Anything else (unknown, non-commercial, no-derivatives) is refused.
FREE_LICENSES = {
    "CC0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
    "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-or-later", "MIT",
}
PERMISSIVE_LICENSES = {"CC0", "CC-BY-3.0", "CC-BY-4.0", "MIT"}

ZIP_0AD = "usr/share/games/0ad/mods/public/public.zip"


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise V2AError(f"{cmd[0]} not found: fetching sound packages needs a Debian/Ubuntu system") from exc
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["failed"]
        raise V2AError(f"{' '.join(cmd)}: {last[0]}") from exc


def fetch_packages(root: Path, packages: list[str] | None = None) -> list[str]:
    """Download and unpack the packages not yet unpacked; returns the ones now present."""
    names = packages or list(PACKAGES)
    # Absolute: apt-get and dpkg run with their own working directories.
    root = Path(root).resolve()
    debs, src = root / "debs", root / "src"
    debs.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)
    present = []
    for name in names:
        dest = src / name
        if not (dest / "usr").is_dir():
            found = sorted(debs.glob(f"{name}_*.deb"))
            if not found:
                try:
                    _run(["apt-get", "download", name], cwd=debs)
                except V2AError:
                    # A fresh machine has no package lists yet: refresh them once, then retry.
                    _run(["apt-get", "update"], cwd=debs)
                    _run(["apt-get", "download", name], cwd=debs)
                found = sorted(debs.glob(f"{name}_*.deb"))
            if not found:
                raise V2AError(f"apt-get download {name} produced no .deb", debs)
            tmp = src / f".{name}.partial"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            _run(["dpkg", "-x", str(found[-1]), str(tmp)], cwd=src)
            shutil.rmtree(dest, ignore_errors=True)
            tmp.rename(dest)
        if name == "0ad-data":
            _unzip_0ad_audio(dest)
        present.append(name)
    return present


def _unzip_0ad_audio(dest: Path) -> None:
    out = dest / "audio-unzipped"
    if (out / ".done").exists():
        return
    zpath = dest / ZIP_0AD
    if not zpath.exists():
        raise V2AError("0ad-data has no public.zip", zpath)
    with zipfile.ZipFile(zpath) as z:
        members = [
            n for n in z.namelist()
            if n.startswith("audio/") and (n.endswith(AUDIO_EXT) or n.endswith(".txt"))
            and not n.startswith(("audio/voice/", "audio/music/", "audio/interface/"))
        ]
        z.extractall(out, members)
    (out / ".done").write_text("ok\n")


# ------------------------------------------------------------------ per-file licenses


def _dep5_entries(copyright_file: Path) -> list[tuple[list[str], str, str]]:
    """(file globs, license, copyright+source text) from a machine-readable copyright file."""
    if not copyright_file.exists():
        return []
    entries = []
    for block in re.split(r"\n\s*\n", copyright_file.read_text(errors="replace")):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif key and line.startswith(" "):
                fields[key] += " " + line.strip()
        if "Files" in fields and "License" in fields:
            credit = fields.get("Copyright", "").strip()
            if fields.get("Source"):
                credit += f" ({fields['Source'].strip()})"
            entries.append((fields["Files"].split(), fields["License"].split()[0] if fields["License"] else "", credit))
    return entries


_LIC_PATTERNS = [
    (re.compile(r"CC0", re.I), "CC0"),
    (re.compile(r"CC[- ]BY[- ]SA[- ]?3\.0", re.I), "CC-BY-SA-3.0"),
    (re.compile(r"CC[- ]BY[- ]SA[- ]?4\.0", re.I), "CC-BY-SA-4.0"),
    (re.compile(r"CC[- ]BY[- ]?3\.0", re.I), "CC-BY-3.0"),
    (re.compile(r"CC[- ]BY[- ]?4\.0", re.I), "CC-BY-4.0"),
]
_LIC_RANK = ["CC0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0"]


def _licenses_in(text: str) -> list[str]:
    return [lic for rx, lic in _LIC_PATTERNS if rx.search(text)]


def _minetest_credit(readme: Path, filename: str) -> tuple[str, str]:
    """(license, credit text) for one Minetest sound from its mod's README.

    The README lists credits as blocks ("Author (license):" then file names or globs). A file
    named in a block takes that block's license; a file named nowhere falls back to the most
    restrictive license that the README's sound section mentions (conservative).
    """
    if not readme.exists():
        return "CC-BY-SA-3.0", "Minetest Game contributors"
    text = readme.read_text(errors="replace")
    m = re.search(r"^Sounds?\b.*$", text, re.M | re.I)
    section = text[m.start():] if m else text
    stem = filename.split(".")[0]
    blocks = re.split(r"\n\s*\n", section)
    for block in blocks:
        for tok in re.findall(r"[\w.*-]+\.ogg|[\w*-]+\.\*", block):
            pat = tok if tok.endswith(".ogg") else tok + ".ogg"
            if fnmatch.fnmatch(filename, pat) or tok.split(".")[0] == stem:
                lics = _licenses_in(block)
                if lics:
                    lic = max(lics, key=_LIC_RANK.index)
                    return lic, " ".join(block.split())[:400]
    lics = _licenses_in(section) or ["CC-BY-SA-3.0"]
    lic = max(lics, key=_LIC_RANK.index)
    return lic, "Minetest Game mod credits: " + " ".join(section.split())[:400]


@dataclass(frozen=True)
class SourceFile:
    package: str
    relpath: str  # path inside the package (0ad: "…/public.zip:audio/…")
    path: Path  # where it is on disk now
    license: str
    attribution: str


def iter_source_files(root: Path, packages: list[str] | None = None) -> Iterator[SourceFile]:
    src = root / "src"
    for name in packages or list(PACKAGES):
        pkg = PACKAGES[name]
        base = src / name
        if not base.is_dir():
            continue
        if name == "0ad-data":
            adir = base / "audio-unzipped"
            files = sorted(p for p in adir.rglob("*") if p.suffix.lower() in AUDIO_EXT)
            for p in files:
                rel = f"{ZIP_0AD}:{p.relative_to(adir).as_posix()}"
                yield SourceFile(name, rel, p, pkg.license, f"{pkg.attribution}, CC-BY-SA-3.0, https://creativecommons.org/licenses/by-sa/3.0/")
            continue
        dep5 = _dep5_entries(base / "usr/share/doc" / name / "copyright")
        files = sorted(p for p in base.rglob("*") if p.suffix.lower() in AUDIO_EXT)
        for p in files:
            rel = p.relative_to(base).as_posix()
            lic, credit = pkg.license, pkg.attribution
            if name == "minetest-data":
                mod = p.parent.parent
                lic, credit = _minetest_credit(mod / "README.txt", p.name)
            elif name == "sonic-pi-samples":
                for globs, elic, ecredit in dep5:
                    if any(fnmatch.fnmatch(rel, "*" + g.split("/")[-1]) and g.split("/")[-1] == p.name for g in globs):
                        lic, credit = elic, ecredit
                        break
                else:
                    lic = "unknown"
            lic = {"GPL-2+": "GPL-2.0-or-later", "GPL-2": "GPL-2.0-only"}.get(lic, lic)
            yield SourceFile(name, rel, p, lic, f"{credit}; {pkg.homepage}")
