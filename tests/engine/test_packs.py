"""Model packs: format, verification, loading, and installation from a local HTTP server."""

from __future__ import annotations

import http.server
import json
import shutil
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from engine.errors import Cancelled, PackError
from engine.packs import (
    check_state_dict,
    classify_source,
    find_pack,
    hf_manifest_url,
    install_pack,
    list_packs,
    load_weights,
    pack_roots,
    read_manifest,
    verify_pack,
    write_pack,
)
from engine.progress import CancelToken, Progress, run_to_completion


def _manifest(name: str = "tiny") -> dict:
    return {
        "name": name,
        "version": "0.1.0",
        "description": "tiny test pack",
        "license": "CC0-1.0",
        "attribution": "tests",
        "sample_rate": 16000,
        "mel": {"n_mels": 64, "hop_length": 160},
        "layout": {"columns_per_second": 10.0, "bands": 5},
        "engines": {"diffusion": {"unet": {"in_channels": 9}}},
        "encoders": {"visual": "tiny"},
    }


def _weights(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    # ~400 KB so downloads take several 64 KiB chunks
    return {
        "unet.safetensors": {"w": torch.randn(300, 300, generator=g), "b": torch.zeros(300)},
        "sub/vae.safetensors": {"enc.weight": torch.randn(8, 4, generator=g)},
    }


@pytest.fixture
def tiny_pack(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "src" / "tiny", _manifest(), _weights(), {"LICENSE.txt": "CC0"})


# ---------------------------------------------------------------- format


def test_write_pack_manifest_and_load_round_trip(tiny_pack: Path) -> None:
    man = read_manifest(tiny_pack)
    assert man["format_version"] == 1
    assert set(man["files"]) == {"unet.safetensors", "sub/vae.safetensors", "LICENSE.txt"}
    assert man["files"]["unet.safetensors"]["tensors"]["w"]["shape"] == [300, 300]
    verify_pack(tiny_pack)
    w = load_weights(tiny_pack, "unet.safetensors")
    assert torch.equal(w["w"], _weights()["unet.safetensors"]["w"])
    assert not list(tiny_pack.parent.glob(".tiny.*"))  # no temp folders left behind


def test_write_pack_replaces_atomically(tiny_pack: Path) -> None:
    write_pack(tiny_pack, {**_manifest(), "version": "0.2.0"}, _weights(seed=1))
    assert read_manifest(tiny_pack)["version"] == "0.2.0"
    assert not (tiny_pack / "LICENSE.txt").exists()  # old content gone
    verify_pack(tiny_pack)


def test_corrupted_file_is_refused_naming_it(tiny_pack: Path) -> None:
    f = tiny_pack / "sub" / "vae.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(PackError, match=r"vae\.safetensors.*checksum"):
        verify_pack(tiny_pack)
    with pytest.raises(PackError, match=r"vae\.safetensors.*checksum"):
        load_weights(tiny_pack, "sub/vae.safetensors")
    load_weights(tiny_pack, "unet.safetensors")  # the intact file still loads


def test_missing_listed_file_is_refused(tiny_pack: Path) -> None:
    (tiny_pack / "unet.safetensors").unlink()
    with pytest.raises(PackError, match=r"unet\.safetensors.*missing"):
        verify_pack(tiny_pack)


@pytest.mark.parametrize("name", ["model.bin", "model.pt", "last.ckpt", "extra.pkl"])
def test_pickle_like_files_are_refused(tiny_pack: Path, name: str) -> None:
    (tiny_pack / name).write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(PackError, match=rf"{name}.*not allowed"):
        verify_pack(tiny_pack)


def test_listed_pickle_cannot_be_loaded(tiny_pack: Path) -> None:
    man = read_manifest(tiny_pack)
    man["files"]["model.pt"] = {"sha256": "0" * 64, "bytes": 1}
    (tiny_pack / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match="model.pt"):
        load_weights(tiny_pack, "model.pt")


def test_shape_mismatch_with_manifest_and_config(tiny_pack: Path) -> None:
    man = read_manifest(tiny_pack)
    man["files"]["unet.safetensors"]["tensors"]["w"]["shape"] = [300, 299]
    (tiny_pack / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match=r"unet\.safetensors.*'w'.*\[300, 300\]"):
        verify_pack(tiny_pack)


def test_expected_shapes_from_model_config(tiny_pack: Path) -> None:
    verify_pack(tiny_pack, expected_shapes={"unet.safetensors": {"w": (300, 300)}})
    with pytest.raises(PackError, match=r"unet\.safetensors.*'b'"):
        verify_pack(tiny_pack, expected_shapes={"unet.safetensors": {"b": (301,)}})
    model = torch.nn.Linear(4, 8)
    good = {"weight": torch.zeros(8, 4), "bias": torch.zeros(8)}
    check_state_dict("vae.safetensors", good, model.state_dict())
    with pytest.raises(PackError, match=r"vae\.safetensors.*'weight'"):
        check_state_dict("vae.safetensors", {**good, "weight": torch.zeros(4, 8)}, model.state_dict())


def test_pack_json_cannot_escape_folder(tiny_pack: Path) -> None:
    man = read_manifest(tiny_pack)
    man["files"]["../evil.safetensors"] = {"sha256": "0" * 64, "bytes": 1}
    (tiny_pack / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match="leaves the pack folder"):
        read_manifest(tiny_pack)


def test_newer_format_is_refused(tiny_pack: Path) -> None:
    man = read_manifest(tiny_pack)
    man["format_version"] = 99
    (tiny_pack / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match="newer"):
        read_manifest(tiny_pack)


# ---------------------------------------------------------------- locations


def test_find_and_list_with_env_roots(tiny_pack: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("V2A_PACKS", str(tiny_pack.parent))
    assert pack_roots() == [tiny_pack.parent]
    assert find_pack("tiny") == tiny_pack
    assert find_pack(str(tiny_pack)) == tiny_pack
    assert find_pack(tiny_pack / "pack.json") == tiny_pack
    infos = list_packs(verify=True)
    assert [(i.name, i.engines, i.verified) for i in infos] == [("tiny", ("diffusion",), True)]
    assert infos[0].size_bytes > 360_000


def test_missing_pack_message_names_installed_and_how_to_install(tiny_pack: Path, monkeypatch) -> None:
    monkeypatch.setenv("V2A_PACKS", str(tiny_pack.parent))
    with pytest.raises(PackError) as exc:
        find_pack("full-large")
    msg = exc.value.message
    assert "'full-large' is not installed" in msg and "tiny" in msg and "v2a pack install" in msg
    with pytest.raises(PackError, match="'starter' is not installed"):
        find_pack(None)


def test_default_roots_embedded_and_user(tmp_path: Path, monkeypatch) -> None:
    for var in ("V2A_PACKS", "V2A_PACKS_DIR", "V2A_HOME", "V2A_PACK_PATH", "V2A_RESOURCES"):
        monkeypatch.delenv(var, raising=False)
    roots = pack_roots()
    assert Path(__file__).resolve().parents[2] / "resources" / "packs" in roots
    assert any("v2a-studio" in str(r) for r in roots)
    frozen = tmp_path / "frozen"
    (frozen / "resources" / "packs").mkdir(parents=True)
    monkeypatch.setattr("sys._MEIPASS", str(frozen), raising=False)
    assert frozen / "resources" / "packs" in pack_roots()


# ---------------------------------------------------------------- install (local)


def test_install_from_folder_zip_and_tar(tiny_pack: Path, tmp_path: Path) -> None:
    dest = tmp_path / "installed"
    d = run_to_completion(install_pack(tiny_pack, dest_root=dest))
    assert d == dest / "tiny"
    verify_pack(d)
    shutil.rmtree(d)

    zpath = tmp_path / "tiny.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in tiny_pack.rglob("*"):
            if f.is_file():
                zf.write(f, "tiny/" + f.relative_to(tiny_pack).as_posix())
    d = run_to_completion(install_pack(zpath, dest_root=dest))
    assert torch.equal(load_weights(d, "unet.safetensors")["b"], torch.zeros(300))
    shutil.rmtree(d)

    tpath = tmp_path / "tiny.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        for f in tiny_pack.rglob("*"):
            tf.add(f, arcname=f.relative_to(tiny_pack).as_posix(), recursive=False)
    d = run_to_completion(install_pack(tpath, dest_root=dest))
    verify_pack(d)
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == ["tiny"]


def test_install_refuses_archive_with_pickle(tiny_pack: Path, tmp_path: Path) -> None:
    zpath = tmp_path / "bad.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(tiny_pack / "pack.json", "pack.json")
        zf.write(tiny_pack / "unet.safetensors", "unet.safetensors")
        zf.writestr("sub/vae.safetensors", (tiny_pack / "sub/vae.safetensors").read_bytes())
        zf.writestr("LICENSE.txt", "CC0")
        zf.writestr("optimizer.pt", b"\x80\x04pickle")
    dest = tmp_path / "installed"
    with pytest.raises(PackError, match=r"optimizer\.pt.*not allowed"):
        run_to_completion(install_pack(zpath, dest_root=dest))
    assert not (dest / "tiny").exists()


def test_install_refuses_path_traversal_in_zip(tmp_path: Path) -> None:
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(PackError, match="leaves the pack folder"):
        run_to_completion(install_pack(zpath, dest_root=tmp_path / "d"))
    assert not (tmp_path / "evil.txt").exists()


def test_classify_sources(tmp_path: Path, monkeypatch) -> None:
    assert classify_source("https://x.org/p/pack.json") == ("url-manifest", "https://x.org/p/pack.json")
    assert classify_source("https://x.org/p/") == ("url-manifest", "https://x.org/p/pack.json")
    assert classify_source("http://x.org/a.tar.gz")[0] == "url-archive"
    monkeypatch.delenv("V2A_HF_ENDPOINT", raising=False)
    assert hf_manifest_url("org/name") == "https://huggingface.co/org/name/resolve/main/pack.json"
    assert classify_source("hf:org/name@v1")[1].endswith("/org/name/resolve/v1/pack.json")
    with pytest.raises(PackError, match="no such file"):
        classify_source(str(tmp_path / "nope" / "x" / "y"))


# ---------------------------------------------------------------- install (HTTP)


class _PackServer:
    """http.server on 127.0.0.1 serving a folder with Range support and fault injection."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.truncate_once: set[str] = set()  # paths whose next response dies halfway
        self.ignore_range = False
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                srv.requests.append((self.path, rng))
                f = srv.root / self.path.lstrip("/")
                if not f.is_file():
                    self.send_error(404)
                    return
                data = f.read_bytes()
                start = 0
                if rng and not srv.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in srv.truncate_once:
                    srv.truncate_once.discard(self.path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tiny_pack: Path):
    srv = _PackServer(tiny_pack.parent)
    yield srv
    srv.close()


def test_install_from_manifest_url(server: _PackServer, tmp_path: Path) -> None:
    dest = tmp_path / "installed"
    job = install_pack(f"{server.url}/tiny/pack.json", dest_root=dest)
    stages = []
    while True:
        try:
            p = next(job)
        except StopIteration as stop:
            d = stop.value
            break
        assert isinstance(p, Progress)
        stages.append(p.stage)
    assert d == dest / "tiny"
    assert "download" in stages and stages[-1] == "verify"
    verify_pack(d)
    assert not (dest / ".partial").exists() or not any((dest / ".partial").iterdir())


def test_interrupted_download_resumes_with_range(server: _PackServer, tmp_path: Path) -> None:
    server.truncate_once.add("/tiny/unet.safetensors")
    d = run_to_completion(install_pack(f"{server.url}/tiny/pack.json", dest_root=tmp_path / "i"))
    verify_pack(d)
    unet = [r for r in server.requests if r[0] == "/tiny/unet.safetensors"]
    assert len(unet) == 2
    assert unet[0][1] is None and unet[1][1] is not None and unet[1][1].startswith("bytes=")
    assert int(unet[1][1][6:-1]) > 100_000  # resumed from where the first attempt stopped


def test_cancelled_download_resumes_on_next_install(server: _PackServer, tmp_path: Path) -> None:
    dest = tmp_path / "i"
    token = CancelToken()
    job = install_pack(f"{server.url}/tiny/pack.json", dest_root=dest, cancel=token)
    n = 0
    with pytest.raises(Cancelled):
        for p in job:
            if p.stage == "download" and p.step > 128 * 1024:
                token.cancel()
            n += 1
    parts = list((dest / ".partial").rglob("*.part"))
    assert parts and parts[0].stat().st_size > 0
    assert not (dest / "tiny").exists()
    d = run_to_completion(install_pack(f"{server.url}/tiny/pack.json", dest_root=dest))
    verify_pack(d)
    assert any(r[1] for r in server.requests if r[0] == "/tiny/unet.safetensors")


def test_download_with_bad_checksum_is_refused(server: _PackServer, tiny_pack: Path, tmp_path: Path) -> None:
    man = read_manifest(tiny_pack)
    man["files"]["sub/vae.safetensors"]["sha256"] = "ab" * 32
    (tiny_pack / "pack.json").write_text(json.dumps(man))
    dest = tmp_path / "i"
    with pytest.raises(PackError, match=r"sub/vae\.safetensors.*checksum"):
        run_to_completion(install_pack(f"{server.url}/tiny/pack.json", dest_root=dest))
    assert not (dest / "tiny").exists()


def test_download_refuses_pickle_before_fetching(server: _PackServer, tiny_pack: Path, tmp_path: Path) -> None:
    man = read_manifest(tiny_pack)
    man["files"]["weights.ckpt"] = {"sha256": "0" * 64, "bytes": 10}
    (tiny_pack / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match=r"weights\.ckpt.*not allowed"):
        run_to_completion(install_pack(f"{server.url}/tiny/pack.json", dest_root=tmp_path / "i"))
    assert all(r[0] != "/tiny/weights.ckpt" for r in server.requests)


def test_install_archive_url_and_hf_id(server: _PackServer, tiny_pack: Path, tmp_path: Path, monkeypatch) -> None:
    zpath = tiny_pack.parent / "tiny.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in tiny_pack.rglob("*"):
            if f.is_file():
                zf.write(f, f.relative_to(tiny_pack).as_posix())
    server.truncate_once.add("/tiny.zip")
    d = run_to_completion(install_pack(f"{server.url}/tiny.zip", dest_root=tmp_path / "a"))
    verify_pack(d)
    assert [r[1] is not None for r in server.requests if r[0] == "/tiny.zip"] == [False, True]

    # A hub repo id resolves to <endpoint>/org/name/resolve/<rev>/pack.json
    hub = tiny_pack.parent / "org" / "tiny" / "resolve" / "main"
    shutil.copytree(tiny_pack, hub)
    monkeypatch.setenv("V2A_HF_ENDPOINT", server.url)
    d = run_to_completion(install_pack("org/tiny", dest_root=tmp_path / "b"))
    verify_pack(d)


def test_http_404_gives_clear_message(server: _PackServer, tmp_path: Path) -> None:
    with pytest.raises(PackError, match="HTTP 404"):
        run_to_completion(install_pack(f"{server.url}/nothing/pack.json", dest_root=tmp_path / "i"))


def test_cli_list_verify_install(tiny_pack: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from engine.cli.main import main

    dest = tmp_path / "user"
    monkeypatch.setenv("V2A_PACKS", str(dest))
    assert main(["pack", "install", str(tiny_pack), "--quiet"]) == 0
    assert main(["pack", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "diffusion" in out and "yes" in out and str(dest) in out
    assert main(["pack", "verify", "tiny"]) == 0
    (dest / "tiny" / "unet.safetensors").write_bytes(b"broken")
    assert main(["pack", "verify", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "unet.safetensors" in err
    assert main(["pack", "verify", "nonexistent"]) == 2
    assert "not installed" in capsys.readouterr().err


def test_sampling_defaults_are_the_packs_over_the_engines(tiny_pack: Path, monkeypatch) -> None:
    import json

    from engine.packs.config import SamplingConfig

    defaults = SamplingConfig().to_dict()
    from engine.packs import sampling_defaults

    monkeypatch.setenv("V2A_PACKS", str(tiny_pack.parent))
    assert sampling_defaults("tiny") == defaults  # the tiny manifest recommends nothing
    man = json.loads((tiny_pack / "pack.json").read_text())
    man["sampling"] = {"steps": 12, "layout_guidance": 2.5}
    (tiny_pack / "pack.json").write_text(json.dumps(man))
    s = sampling_defaults("tiny")
    assert (s["steps"], s["layout_guidance"], s["guidance"]) == (12, 2.5, defaults["guidance"])
    with pytest.raises(PackError, match="not installed"):
        sampling_defaults("nope")
