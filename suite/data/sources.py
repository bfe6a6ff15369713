"""Where each dataset's files come from, as data: ``sources.toml`` beside this file, or a mirror's file.

A :class:`FileSource` is one file to fetch: where it lands under the data root, the mirrors it may come
from, its published size, and the checksums it must match (md5, sha256 or both; at least one). The table
lives in ``sources.toml`` rather than in code so a mirror is the same kind of file: env ``SUITE_SOURCES``
names a TOML file of that shape whose datasets replace the built-in ones, whole. That is how a lab serves
its own copies, and how the tests serve real files from a local HTTP server with those files' checksums;
the checksums always come from the local file, never from the server, so a mirror cannot vouch for itself.

The event sets name a ``tonic.datasets`` class instead of files: their URLs, file names and md5 sums are
read from tonic (``train_url``/``train_filename``/``train_md5`` and the test ones, or one ``url`` for both
splits), so they follow tonic's updates; the archive lands and unpacks where tonic's own download puts it,
``<root>/<class>/``, which is one of the layouts :mod:`suite.data.file_layouts` reads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import tomllib

BUILTIN = Path(__file__).with_name("sources.toml")
ENV = "SUITE_SOURCES"
SPLITS = ("train", "test")
KEYS = ("path", "urls", "size", "md5", "sha256", "split", "unpack", "inner")
HEX = {"md5": re.compile(r"[0-9a-f]{32}"), "sha256": re.compile(r"[0-9a-f]{64}")}


class SourceError(ValueError):
    """A sources file that cannot be used: names the file, the dataset, the key and what is allowed."""


@dataclass(frozen=True)
class FileSource:
    path: str  # relative to the data root, '/'-separated
    urls: tuple[str, ...]  # mirrors, tried in order
    size: int | None  # bytes, as published (None: unknown; tonic publishes none)
    md5: str | None
    sha256: str | None
    split: str | None = None  # the split it holds; None: both
    unpack: bool = False  # an archive: unpacked into its folder, then removed
    inner: tuple[str, ...] = ()  # archives inside it, unpacked in turn (CIFAR10-DVS: one zip per class)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    def checks(self) -> dict[str, str]:
        """Algorithm -> expected hex digest, for every checksum this file has."""
        return {k: v for k, v in (("md5", self.md5), ("sha256", self.sha256)) if v}


def table(path: str | os.PathLike | None = None) -> dict[str, list[FileSource]]:
    """Dataset -> its files: the built-in table, with the datasets of ``path`` (else env ``SUITE_SOURCES``,
    when set) replacing theirs."""
    out = _read(BUILTIN)
    extra = path or os.environ.get(ENV)
    if extra:
        out.update(_read(Path(extra).expanduser()))
    return out


def for_split(files: list[FileSource], split: str | None) -> list[FileSource]:
    """The files a split needs (all of them for ``split=None``)."""
    return [f for f in files if split is None or f.split in (None, split)]


def _read(path: Path) -> dict[str, list[FileSource]]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SourceError(f"{path}: cannot read the sources file: {err}") from None
    out = {}
    for dataset, entry in raw.items():
        where = f"{path}: [{dataset}]"
        if not isinstance(entry, dict) or set(entry) not in ({"files"}, {"tonic"}):
            raise SourceError(f"{where}: want exactly one of files = [...] or tonic = '<class>'")
        if "tonic" in entry:
            out[dataset] = tonic_files(entry["tonic"], where)
        elif not isinstance(entry["files"], list) or not entry["files"]:
            raise SourceError(f"{where}: files = {entry['files']!r}; want a non-empty list of tables")
        else:
            out[dataset] = [_file(f, f"{where} files[{i}]") for i, f in enumerate(entry["files"])]
    return out


def _file(raw: object, where: str) -> FileSource:
    if not isinstance(raw, dict):
        raise SourceError(f"{where}: {raw!r}; want a table with keys {', '.join(KEYS)}")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise SourceError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(KEYS)}")
    path = raw.get("path")
    if not isinstance(path, str) or not path or PurePosixPath(path).is_absolute() or ".." in path.split("/"):
        raise SourceError(f"{where}: path = {path!r}; want a relative path inside the data root")
    urls = raw.get("urls")
    if not isinstance(urls, list) or not urls or not all(re.match(r"https?://", str(u)) for u in urls):
        raise SourceError(f"{where}: urls = {urls!r}; want a non-empty list of http(s):// URLs")
    size = raw.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise SourceError(f"{where}: size = {size!r}; want a byte count (a non-negative integer)")
    sums = {k: raw.get(k) for k in HEX}
    for key, value in sums.items():
        if value is not None and not (isinstance(value, str) and HEX[key].fullmatch(value)):
            raise SourceError(f"{where}: {key} = {value!r}; want {HEX[key].pattern} (lower-case hex)")
    if not any(sums.values()):
        raise SourceError(f"{where}: no checksum; give md5 and/or sha256 (a file is never taken unchecked)")
    split = raw.get("split")
    if split not in (None, *SPLITS):
        raise SourceError(f"{where}: split = {split!r}; allowed: {', '.join(SPLITS)} (or leave it out)")
    unpack, inner = raw.get("unpack", False), raw.get("inner", [])
    if not isinstance(unpack, bool):
        raise SourceError(f"{where}: unpack = {unpack!r}; want true or false")
    if not isinstance(inner, list) or not all(isinstance(n, str) for n in inner) or (inner and not unpack):
        raise SourceError(f"{where}: inner = {inner!r}; want a list of archive names (needs unpack = true)")
    return FileSource(path, tuple(urls), size, sums["md5"], sums["sha256"], split, unpack, tuple(inner))


def tonic_files(cls_name: object, where: str) -> list[FileSource]:
    """The files tonic's own download of ``tonic.datasets.<cls_name>`` fetches, per split."""
    import tonic.datasets

    cls = getattr(tonic.datasets, str(cls_name), None)
    if not isinstance(cls_name, str) or cls is None:
        raise SourceError(f"{where}: tonic = {cls_name!r}; not a class of tonic.datasets")
    folder = cls.__name__  # tonic saves to <save_to>/<class name>/
    if hasattr(cls, "train_url"):
        triples = [(s, getattr(cls, f"{s}_url"), getattr(cls, f"{s}_filename"), getattr(cls, f"{s}_md5"))
                   for s in SPLITS]  # fmt: skip
    else:
        triples = [(None, cls.url, cls.filename, cls.file_md5)]
    inner = tuple(getattr(cls, "data_filename", ()) or ())
    return [
        FileSource(f"{folder}/{name}", (url,), None, md5, None, split, True, inner)
        for split, url, name, md5 in triples
    ]
