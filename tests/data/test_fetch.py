"""Fetching datasets end to end, against a local HTTP server (127.0.0.1) serving real files from
../shared/data with those files' checksums (a mirror, via SUITE_SOURCES): fetch, resume after a cut,
a corrupted byte refused, offline failure naming every dataset at once, and a study that fetches then trains.

The server speaks enough HTTP/1.1 for the fetcher: GET with or without ``Range: bytes=N-`` (206 with
``Content-Range``, or 200 when told to ignore ranges), HEAD, and two faults, a connection closed after some
bytes of a file (once) and a flipped byte. Every request is logged, so a test can say what was asked for.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from suite import data
from suite.data import download, fetch, sources

MNIST = [f"{s}-{k}-idx{n}-ubyte.gz" for s in ("train", "t10k") for k, n in (("images", 3), ("labels", 1))]


class Mirror:
    """The files a test serves (url path -> bytes), the faults to inject, and the requests seen."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}  # path -> close the connection after this many bytes (once)
        self.corrupt: set[str] = set()  # paths served with one byte flipped
        self.ranges = True  # honour Range requests
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        handler = type("Handler", (_Handler,), {"mirror": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sources_toml(self, entries: dict[str, list[dict]]) -> str:
        lines = []
        for dataset, files in entries.items():
            lines.append(f"[{dataset}]\nfiles = [")
            for f in files:
                body = self.files[f["serve"]]
                keys = {k: v for k, v in f.items() if k != "serve"}
                keys |= {"urls": [self.url + f["serve"]], "size": len(body)}
                keys |= {algo: hashlib.new(algo, body).hexdigest() for algo in f.get("checks", ["sha256"])}
                keys.pop("checks", None)
                cells = ", ".join(f"{k} = {_toml(v)}" for k, v in keys.items())
                lines.append(f"  {{ {cells} }},")
            lines.append("]")
        return "\n".join(lines) + "\n"


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return f'"{v}"' if isinstance(v, str) else str(v)


class _Handler(BaseHTTPRequestHandler):
    mirror: Mirror
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self.mirror.log.append(("HEAD", self.path, None))
        body = self.mirror.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body) if body is not None else 0))
        self.end_headers()

    def do_GET(self):
        m = self.mirror
        rng = self.headers.get("Range")
        m.log.append(("GET", self.path, rng))
        body = m.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if self.path in m.corrupt:
            body = body[:1000] + bytes([body[1000] ^ 0xFF]) + body[1001:]
        start = int(rng.removeprefix("bytes=").removesuffix("-")) if rng and m.ranges else 0
        if start >= len(body) and rng:
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = m.cut.pop(self.path, None)
        self.wfile.write(body[start:cut] if cut is not None else body[start:])
        if cut is not None:
            self.close_connection = True


@pytest.fixture
def mirror(data_root, monkeypatch, tmp_path):
    """A local server with MNIST's four .gz files and a CIFAR-10 binary tarball packed from the subset,
    named by a SUITE_SOURCES file: MNIST checked by sha256, CIFAR-10 by md5, as each file is served."""
    m = Mirror()
    for name in MNIST:
        m.files[f"/mnist/{name}"] = (data_root / "MNIST" / "raw" / name).read_bytes()
    m.files["/cifar/cifar-10-binary.tar.gz"] = _pack_cifar(data_root)
    mnist = [
        {
            "path": f"MNIST/raw/{n}",
            "split": "train" if n.startswith("train") else "test",
            "serve": f"/mnist/{n}",
        }
        for n in MNIST
    ]
    cifar = [{"path": "cifar-10-binary.tar.gz", "unpack": True, "serve": "/cifar/cifar-10-binary.tar.gz",
              "checks": ["md5"]}]  # fmt: skip
    m.toml = tmp_path / "mirror-sources.toml"
    m.toml.write_text(m.sources_toml({"mnist": mnist, "cifar10": cifar}))
    monkeypatch.setenv(sources.ENV, str(m.toml))
    yield m
    m.server.shutdown()
    m.server.server_close()


def _pack_cifar(data_root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("batches.meta.txt", "data_batch_1.bin", "test_batch.bin"):
            tar.add(data_root / "cifar-10-batches-bin" / name, arcname=f"cifar-10-batches-bin/{name}")
    return buf.getvalue()


def _leftovers(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if ".part" in p.name or ".unpack" in p.name
    )


def test_fetch_brings_mnist_and_cifar10_checked_and_readable(mirror, data_root, tmp_path):
    root = tmp_path / "data"
    lines: list[str] = []
    assert fetch.fetch(["mnist", "cifar10"], root, out=lines.append) == {}
    for name in MNIST:
        assert (root / "MNIST/raw" / name).read_bytes() == (data_root / "MNIST/raw" / name).read_bytes()
    shared = data_root / "cifar-10-batches-bin"
    assert (root / "cifar-10-batches-bin/test_batch.bin").read_bytes() == (
        shared / "test_batch.bin"
    ).read_bytes()
    assert not (root / "cifar-10-binary.tar.gz").exists(), "the archive is removed once unpacked"
    assert _leftovers(root) == []
    assert len(data.load("mnist", "test", T=1, root=root, download=False)) == 10_000
    assert len(data.load("cifar10", "train", T=1, root=root, download=False)) == 4_000
    assert sum("fetched mnist" in ln and "sha256 checked" in ln for ln in lines) == 4
    assert any("fetched cifar10: cifar-10-binary.tar.gz (md5 checked" in ln for ln in lines)

    mirror.log.clear()  # present now: a second fetch asks the server nothing
    assert fetch.fetch(["mnist", "cifar10"], root) == {} and mirror.log == []


def test_dry_run_lists_the_files_and_sizes_and_fetches_nothing(mirror, tmp_path):
    root = tmp_path / "data"
    lines = fetch.dry_run(["cifar10", "mnist"], root)
    size = len(mirror.files["/mnist/train-images-idx3-ubyte.gz"])
    assert any(f"MNIST/raw/train-images-idx3-ubyte.gz  {fetch.human(size)}" in ln for ln in lines)
    total = sum(len(b) for b in mirror.files.values())
    assert lines[-1] == f"total {fetch.human(total)}"
    assert mirror.log == [] and not root.exists()


@pytest.mark.parametrize("ranges", [True, False], ids=["server-resumes", "server-ignores-range"])
def test_an_interrupted_fetch_resumes_from_the_part_file(mirror, data_root, tmp_path, ranges):
    root, path, cut = tmp_path / "data", "/mnist/train-images-idx3-ubyte.gz", 1_000_000
    mirror.cut[path], mirror.ranges = cut, ranges
    failed = fetch.fetch(["mnist"], root, splits=["train"])
    msg = str(failed["mnist"])
    assert msg.startswith("mnist (train split): no data found") and f"closed after {cut} of" in msg
    part = root / "MNIST/raw/train-images-idx3-ubyte.gz.part"
    assert part.stat().st_size == cut and not (root / "MNIST/raw/train-images-idx3-ubyte.gz").exists()

    mirror.log.clear()
    assert fetch.fetch(["mnist"], root, splits=["train"]) == {}
    assert ("GET", path, f"bytes={cut}-") in mirror.log  # asked for the rest only
    want = (data_root / "MNIST/raw/train-images-idx3-ubyte.gz").read_bytes()
    assert (root / "MNIST/raw/train-images-idx3-ubyte.gz").read_bytes() == want
    assert _leftovers(root) == []


def test_a_corrupted_byte_is_refused_and_nothing_is_kept(mirror, tmp_path):
    root = tmp_path / "data"
    mirror.corrupt.add("/mnist/t10k-labels-idx1-ubyte.gz")
    msg = str(fetch.fetch(["mnist"], root, splits=["test"])["mnist"])
    assert "download: failed: could not download t10k-labels-idx1-ubyte.gz from http://127.0.0.1:" in msg
    assert "sha256 " in msg and "!= expected" in msg
    assert not (root / "MNIST/raw/t10k-labels-idx1-ubyte.gz").exists() and _leftovers(root) == []


def test_a_resumed_file_that_fails_its_check_is_fetched_once_more_from_the_start(mirror, tmp_path):
    root = tmp_path / "data"
    part = root / "MNIST/raw/t10k-images-idx3-ubyte.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 5000)  # bytes of an earlier attempt, wrong ones
    assert fetch.fetch(["mnist"], root, splits=["test"]) == {}
    gets = [r for m, p, r in mirror.log if m == "GET" and p.endswith("t10k-images-idx3-ubyte.gz")]
    assert gets == ["bytes=5000-", None]


def test_load_fetches_only_the_split_it_needs(mirror, tmp_path):
    ds = data.load("mnist", "test", T=1, root=tmp_path / "data", limit=10)
    assert len(ds) == 10
    assert sorted(p for m, p, _ in mirror.log) == [
        "/mnist/t10k-images-idx3-ubyte.gz",
        "/mnist/t10k-labels-idx1-ubyte.gz",
    ]


def test_an_event_set_archive_is_unpacked_into_its_layout(mirror, data_root, tmp_path, monkeypatch):
    """The event sets come as archives (tonic's zips and tarballs): N-MNIST's test split, zipped here from
    the subset as Test/<digit>/*.bin, lands in <root>/NMNIST/ and reads as the original layout."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted((data_root / "NMNIST/Test").rglob("*.bin")):
            z.write(f, f.relative_to(data_root / "NMNIST").as_posix())
    mirror.files["/nmnist/test.zip"] = buf.getvalue()
    entry = {
        "path": "NMNIST/test.zip",
        "split": "test",
        "unpack": True,
        "serve": "/nmnist/test.zip",
        "checks": ["md5"],
    }
    mirror.toml.write_text(mirror.sources_toml({"nmnist": [entry]}))
    root = tmp_path / "data"
    assert fetch.fetch(["nmnist"], root, splits=["test"]) == {}
    ds = data.load("nmnist", "test", T=4, root=root, download=False, cache=False)
    assert len(ds) == len(list((data_root / "NMNIST/Test").rglob("*.bin")))
    assert not (root / "NMNIST/test.zip").exists() and _leftovers(root) == []


def test_offline_every_missing_dataset_fails_at_once_one_probe_per_host(tmp_path, monkeypatch):
    calls: list[tuple] = []

    def offline(address, *args, **kwargs):
        calls.append(address)
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", offline)
    root = tmp_path / "empty"
    failed = fetch.fetch(data.names(), root)
    assert list(failed) == data.names()
    for name, err in failed.items():
        assert str(err).startswith(f"{name} (train split): no data found")
        assert "download: failed: could not download" in str(err) and "network unreachable (test)" in str(err)
    hosts = {download.host(u) for files in sources.table().values() for f in files for u in f.urls}
    assert sorted(f"{h}:{p}" for h, p in calls) == sorted(hosts)  # each host once, all in one go
    assert not root.exists()


def test_a_host_that_never_answers_is_given_up_at_the_probe_timeout(monkeypatch):
    never = threading.Event()

    def hang(*args, **kwargs):  # a DNS lookup that never returns (until the test ends)
        never.wait()
        raise OSError("too late")

    monkeypatch.setattr(socket, "create_connection", hang)
    answer = download.probe_hosts(["http://example.invalid/a", "https://example.invalid/b"], timeout=0.2)
    never.set()
    assert answer == {
        "example.invalid:80": "example.invalid: no answer within 0.2 s",
        "example.invalid:443": "example.invalid: no answer within 0.2 s",
    }


def test_a_read_only_data_folder_is_never_fetched_into(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("no probe expected"))
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o555)
    try:
        msg = str(fetch.fetch(["mnist"], root)["mnist"])
    finally:
        root.chmod(0o755)
    assert f"download: failed: {root} is not writable; fetch into another folder" in msg


def test_the_event_sets_sources_are_tonics_own(monkeypatch):
    import tonic.datasets as td

    monkeypatch.delenv(sources.ENV, raising=False)
    table = sources.table()
    nmnist = {f.split: f for f in table["nmnist"]}
    assert nmnist["train"].urls == (td.NMNIST.train_url,) and nmnist["train"].md5 == td.NMNIST.train_md5
    assert nmnist["test"].path == f"NMNIST/{td.NMNIST.test_filename}" and nmnist["test"].unpack
    (dvs,) = table["cifar10-dvs"]
    assert dvs.urls == (td.CIFAR10DVS.url,) and dvs.inner == tuple(td.CIFAR10DVS.data_filename)
    assert {f.path for f in table["dvs-gesture"]} == {
        "DVSGesture/ibmGestureTrain.tar.gz",
        "DVSGesture/ibmGestureTest.tar.gz",
    }
    assert set(table) == set(data.names())


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ('tonic = "NoSuchSet"', "tonic = 'NoSuchSet'; not a class of tonic.datasets"),
        (
            'files = [{ path = "a.gz", urls = ["http://x/a.gz"] }]',
            "files[0]: no checksum; give md5 and/or sha256",
        ),
        (
            'files = [{ path = "../a.gz", urls = ["http://x/a"], md5 = "%s" }]' % ("0" * 32),
            "path = '../a.gz'",
        ),
        ('files = [{ path = "a", urls = ["ftp://x/a"], md5 = "%s" }]' % ("0" * 32), "urls = ['ftp://x/a']"),
        ('files = [{ path = "a", urls = ["http://x/a"], md5 = "XYZ" }]', "md5 = 'XYZ'; want [0-9a-f]{32}"),
        (
            'files = [{ path = "a", urls = ["http://x/a"], md5 = "%s", splt = "test" }]' % ("0" * 32),
            "unknown key(s) ['splt']",
        ),
    ],
)
def test_a_bad_sources_file_is_one_line_naming_file_dataset_and_key(tmp_path, monkeypatch, entry, error):
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[mnist]\n{entry}\n")
    monkeypatch.setenv(sources.ENV, str(bad))
    with pytest.raises(sources.SourceError) as e:
        sources.table()
    assert str(e.value).startswith(f"{bad}: [mnist]") and error in str(e.value) and "\n" not in str(e.value)


def test_offline_a_study_stops_with_one_message_naming_every_missing_dataset(tmp_path, monkeypatch):
    from suite.study import run_study

    def offline(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", offline)
    lines: list[str] = []
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert (
        run_study(
            "table2", profile="paper", data_root=str(tmp_path / "empty"), tracking_uri=uri, out=lines.append
        )
        == 2
    )
    (msg,) = lines
    assert msg.startswith(f"no data for 6 dataset(s) the study needs: {', '.join(sorted(data.names()))}\n")
    assert msg.count("download: failed: could not download") == 6
    assert msg.count("network unreachable (test)") >= 6


TINY = """
name = "fetch-smoke"
extends = "_shared"
title = "LIF on MNIST, from a fetched data folder"
seeds = [0]
[base]
dataset = "mnist"
neuron = "LIF"
"""


@pytest.mark.slow
def test_a_study_on_an_empty_data_folder_fetches_then_trains(mirror, tmp_path):
    study = tmp_path / "fetch-smoke.toml"
    study.write_text(TINY)
    root = tmp_path / "fresh-data"
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "home"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    args = ["study", str(study), "--profile", "smoke", "--data-root", str(root), "--workers", "1",
            "--tracking-uri", f"sqlite:///{tmp_path}/home/mlflow.db", "--no-report"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "suite", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("fetched mnist: MNIST/raw/") == 4
    assert "1 runs completed, 0 failed" in done.stdout
    assert sorted(p.name for p in (root / "MNIST/raw").iterdir()) == sorted(MNIST)

    offline = subprocess.run(  # the same on another empty folder with --offline: one message, no fetch
        [sys.executable, "-m", "suite", *args[:5], str(tmp_path / "other"), *args[6:], "--offline"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert offline.returncode == 2
    assert "no data for 1 dataset(s) the study needs: mnist" in offline.stdout
    assert "download: not attempted (download=False)" in offline.stdout
