"""Packs from elsewhere: only listed files are installed or accepted, manifest paths stay
inside the pack, resumed downloads are validated with If-Range, http warns, --sha256 pins."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from engine.cli.main import main
from engine.errors import PackError
from engine.packs import install_pack, read_manifest, verify_pack, write_pack
from engine.progress import run_to_completion


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    g = torch.Generator().manual_seed(0)
    weights = {"unet.safetensors": {"w": torch.randn(300, 300, generator=g)},  # ~360 KB: several chunks
               "sub/vae.safetensors": {"e": torch.randn(8, 4, generator=g)}}
    man = {"name": "tiny", "version": "0.1.0", "engines": {"diffusion": {}}}
    return write_pack(tmp_path / "src" / "tiny", man, weights, {"LICENSE.txt": "CC0"})


def _listed(pack: Path) -> set[str]:
    return {*read_manifest(pack)["files"], "pack.json"}


def _tree(d: Path) -> set[str]:
    return {f.relative_to(d).as_posix() for f in d.rglob("*") if f.is_file()}


def _zip(pack: Path, out: Path, extra: dict[str, bytes], prefix: str = "") -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for f in sorted(pack.rglob("*")):
            if f.is_file():
                zf.write(f, prefix + f.relative_to(pack).as_posix())
        for name, data in extra.items():
            zf.writestr(prefix + name, data)
    return out


# ------------------------------------------------------------------ verify


@pytest.mark.parametrize("rel", [".cache/model.pt", ".hidden/extra.safetensors", "extra.safetensors", "notes.md"])
def test_verify_fails_on_unlisted_files_hidden_folders_included(pack: Path, rel: str) -> None:
    verify_pack(pack)
    f = pack / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"\x80\x04junk")
    with pytest.raises(PackError) as e:
        verify_pack(pack)
    assert rel in e.value.message.replace("\\", "/")
    assert "not listed" in e.value.message or "not allowed" in e.value.message


@pytest.mark.parametrize(
    "section,value",
    [
        ("vocoder", {"kind": "hifigan", "file": "/etc/vocoder.safetensors"}),
        ("vocoder", {"kind": "hifigan", "file": "../other/vocoder.safetensors"}),
        ("vocoder", {"kind": "hifigan", "file": "vocoder.safetensors", "config_file": "../../config.json"}),
        ("vae", {"file": "../vae.safetensors"}),
        ("engines", {"ar": {"model_file": "/abs/ar_model.safetensors"}}),
    ],
)
def test_verify_fails_on_manifest_paths_leaving_the_pack(pack: Path, section: str, value: dict) -> None:
    man = json.loads((pack / "pack.json").read_text())
    man[section] = value
    (pack / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match=rf"pack\.json: {section}\..*leaves the pack folder"):
        verify_pack(pack)


def test_verify_fails_on_file_entries_leaving_the_pack(pack: Path) -> None:
    for rel in ("/tmp/x.safetensors", "../x.safetensors", "sub/../../x.safetensors"):
        man = json.loads((pack / "pack.json").read_text())
        man["files"][rel] = {"sha256": "0" * 64, "bytes": 1}
        (pack / "pack.json").write_text(json.dumps(man))
        with pytest.raises(PackError, match="leaves the pack folder"):
            verify_pack(pack)
        del man["files"][rel]
        (pack / "pack.json").write_text(json.dumps(man))


@pytest.mark.parametrize("name", ["starter", "starter-ar"])
def test_shipped_packs_still_verify(name: str) -> None:
    d = Path(__file__).resolve().parents[2] / "resources" / "packs" / name
    verify_pack(d)


# ------------------------------------------------------------------ install from archives


def test_archive_install_writes_only_listed_files(pack: Path, tmp_path: Path) -> None:
    extra = {"notes.md": b"unlisted", ".hidden/readme.txt": b"unlisted", "sub/extra.safetensors": b"unlisted"}
    for prefix in ("", "tiny/"):
        z = _zip(pack, tmp_path / f"p{len(prefix)}.zip", extra, prefix)
        d = run_to_completion(install_pack(z, dest_root=tmp_path / f"i{len(prefix)}"))
        assert _tree(d) == _listed(pack)
        verify_pack(d)
    t = tmp_path / "p.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        for f in sorted(pack.rglob("*")):
            if f.is_file():
                tf.add(f, arcname="./" + f.relative_to(pack).as_posix(), recursive=False)
        info = tarfile.TarInfo(".hidden/x.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    d = run_to_completion(install_pack(t, dest_root=tmp_path / "it"))
    assert _tree(d) == _listed(pack)


def test_archive_with_unlisted_pickle_anywhere_is_refused(pack: Path, tmp_path: Path) -> None:
    z = _zip(pack, tmp_path / "p.zip", {".hidden/model.pt": b"\x80\x04pickle"})
    dest = tmp_path / "i"
    with pytest.raises(PackError, match=r"model\.pt.*not allowed"):
        run_to_completion(install_pack(z, dest_root=dest))
    assert not (dest / "tiny").exists()


def test_archive_entry_larger_than_listed_is_refused(pack: Path, tmp_path: Path) -> None:
    man = json.loads((pack / "pack.json").read_text())
    man["files"]["LICENSE.txt"]["bytes"] = 1  # the archive holds more than the list allows
    (pack / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match=r"LICENSE\.txt: larger than pack\.json says"):
        run_to_completion(install_pack(_zip(pack, tmp_path / "p.zip", {}), dest_root=tmp_path / "i"))


def test_damaged_zip_is_a_pack_error(pack: Path, tmp_path: Path) -> None:
    z = _zip(pack, tmp_path / "p.zip", {})
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("unet.safetensors")
    data = bytearray(z.read_bytes())
    i = info.header_offset + 30 + len(info.filename) + 5000  # inside the stored data: a bad CRC on read
    data[i:i + 8] = bytes(b ^ 0xFF for b in data[i:i + 8])
    z.write_bytes(bytes(data))
    with pytest.raises(PackError, match=r"p\.zip: damaged archive \(BadZipFile"):
        run_to_completion(install_pack(z, dest_root=tmp_path / "i"))


# ------------------------------------------------------------------ HTTP


class _Server:
    """127.0.0.1 only: serves in-memory files with ETag / Last-Modified, honours Range and
    If-Range like a real server, and can cut one response short and change a file after it."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.etags: dict[str, str | None] = {}
        self.last_modified: dict[str, str | None] = {}
        self.requests: list[dict[str, str | None]] = []
        self.cut_once: dict[str, bytes | None] = {}  # path -> new content after the cut (or None)
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:
                pass

            def do_GET(self) -> None:
                rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
                srv.requests.append({"path": self.path, "range": rng, "if_range": if_range})
                data = srv.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                etag, lm = srv.etags.get(self.path), srv.last_modified.get(self.path)
                start = 0
                if rng and (if_range is None or if_range in (etag, lm)):
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                if etag:
                    self.send_header("ETag", etag)
                if lm:
                    self.send_header("Last-Modified", lm)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in srv.cut_once:
                    new = srv.cut_once.pop(self.path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    if new is not None:  # the publisher replaces the archive meanwhile
                        srv.files[self.path] = new
                        srv.etags[self.path] = '"v2"' if etag else None
                        srv.last_modified[self.path] = "Wed, 02 Oct 2024 00:00:00 GMT" if lm else None
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 10
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def _short_timeouts(monkeypatch):
    import engine.packs.install as inst

    monkeypatch.setattr(inst, "TIMEOUT_S", 10.0)  # a hung loopback server fails the test, not CI


def _two_versions(pack: Path, tmp_path: Path) -> tuple[bytes, bytes]:
    v1 = _zip(pack, tmp_path / "v1.zip", {}).read_bytes()
    man = json.loads((pack / "pack.json").read_text())
    man["version"] = "0.2.0"
    (pack / "pack.json").write_text(json.dumps(man))
    v2 = _zip(pack, tmp_path / "v2.zip", {"notes.md": b"new release " * 1000}).read_bytes()
    return v1, v2


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_resume_of_a_changed_archive_restarts_from_zero(server: _Server, pack: Path, tmp_path: Path,
                                                        validator: str) -> None:
    v1, v2 = _two_versions(pack, tmp_path)
    server.files["/p.zip"] = v1
    server.etags["/p.zip"] = '"v1"' if validator == "etag" else None
    server.last_modified["/p.zip"] = "Tue, 01 Oct 2024 00:00:00 GMT" if validator == "last_modified" else None
    server.cut_once["/p.zip"] = v2  # first response dies halfway, then the archive changes
    d = run_to_completion(install_pack(f"{server.url}/p.zip", dest_root=tmp_path / "i", warn=lambda m: None))
    assert read_manifest(d)["version"] == "0.2.0"  # the new archive, whole, not v1 + tail of v2
    verify_pack(d)
    first, second = server.requests
    assert first["range"] is None and second["range"] is not None
    sent = '"v1"' if validator == "etag" else "Tue, 01 Oct 2024 00:00:00 GMT"
    assert second["if_range"] == sent


def test_resume_of_an_unchanged_archive_appends(server: _Server, pack: Path, tmp_path: Path) -> None:
    server.files["/p.zip"] = _zip(pack, tmp_path / "p.zip", {}).read_bytes()
    server.etags["/p.zip"] = '"same"'
    server.cut_once["/p.zip"] = None
    d = run_to_completion(install_pack(f"{server.url}/p.zip", dest_root=tmp_path / "i", warn=lambda m: None))
    verify_pack(d)
    assert [r["if_range"] for r in server.requests] == [None, '"same"']
    assert int(server.requests[1]["range"][6:-1]) > 100_000
    assert not list((tmp_path / "i").rglob("*.validator"))


def test_manifest_url_install_leaves_no_validators_in_the_pack(server: _Server, pack: Path, tmp_path: Path) -> None:
    for f in pack.rglob("*"):
        if f.is_file():
            server.files["/tiny/" + f.relative_to(pack).as_posix()] = f.read_bytes()
            server.etags["/tiny/" + f.relative_to(pack).as_posix()] = '"e"'
    server.cut_once["/tiny/unet.safetensors"] = None
    d = run_to_completion(install_pack(f"{server.url}/tiny/pack.json", dest_root=tmp_path / "i", warn=lambda m: None))
    assert _tree(d) == _listed(pack)
    verify_pack(d)


def test_http_warns_and_https_does_not(server: _Server, pack: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from engine.packs.install import insecure_warning

    assert insecure_warning("https://example.org/p.zip") is None
    assert "plain http" in insecure_warning("http://example.org/p.zip")
    server.files["/p.zip"] = _zip(pack, tmp_path / "p.zip", {}).read_bytes()
    monkeypatch.setenv("V2A_PACKS", str(tmp_path / "user"))
    assert main(["pack", "install", f"{server.url}/p.zip", "--quiet"]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(lines) == 1 and "plain http" in lines[0] and server.url in lines[0]


def test_sha256_pins_the_archive(server: _Server, pack: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    z = _zip(pack, tmp_path / "p.zip", {})
    good = hashlib.sha256(z.read_bytes()).hexdigest()
    user = tmp_path / "user"
    monkeypatch.setenv("V2A_PACKS", str(user))
    assert main(["pack", "install", str(z), "--sha256", "ab" * 32, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("v2a: error: ") and "sha256 mismatch" in err and len(err.splitlines()) == 1
    assert not (user / "tiny").exists()
    server.files["/p.zip"] = z.read_bytes()
    assert main(["pack", "install", f"{server.url}/p.zip", "--sha256", "cd" * 32, "--quiet"]) == 2
    assert "sha256 mismatch" in capsys.readouterr().err and not (user / "tiny").exists()
    assert not list(user.rglob("*.zip"))  # the wrong download is not kept
    assert main(["pack", "install", str(z), "--sha256", "xyz", "--quiet"]) == 2
    assert "64 hex digits" in capsys.readouterr().err
    assert main(["pack", "install", f"{server.url}/p.zip", "--sha256", good.upper(), "--quiet"]) == 0
    verify_pack(user / "tiny")
    shutil.rmtree(user / "tiny")
    assert main(["pack", "install", str(z), "--sha256", good, "--quiet"]) == 0
