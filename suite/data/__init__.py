"""The paper's six datasets, read offline from their original file formats: ``load(name, split, T=...)``.

Layouts (defined once, in ARCHITECTURE.md "Tensor layouts"; restated here for the data side):

- static sets (``mnist``, ``fashion-mnist``, ``cifar10``) yield ``(x [C, H, W] float32, label int)``, the
  image normalised with the set's full-train-set mean/std; the network's encoder sees it once and repeats
  over T. ``loader`` batches them to ``[B, C, H, W]``.
- event sets (``nmnist``, ``cifar10-dvs``, ``dvs-gesture``) yield ``(x [T, 2, H, W] float32, label int)``:
  per-pixel event counts of T frames of equal event count, channel 0 = OFF, 1 = ON. ``loader`` batches
  them time first, ``[T, B, 2, H, W]``.

``loader(ds, batch_size, shuffle=..., workers=..., seed=...)`` is built once per dataset and reused every
epoch (workers persist); ``loader.set_epoch(e)`` before epoch ``e`` selects that epoch's order, a pure
function of ``(seed, e)`` (so is each batch's augmentation), see :mod:`suite.data.batching`.

Files are looked for under the data root (``root=``, else env ``SUITE_DATA``, else ``./data``) in each set's
original layout (see :mod:`suite.data.registry` and :mod:`suite.data.file_layouts`); when absent they are
downloaded from the official source (``download=True``, the default, fails within seconds offline), else
:class:`DatasetNotFound` says what is missing and where to get it. Framed event tensors are cached under
env ``SUITE_CACHE`` (else ``~/.cache/klif-suite``), never under the (possibly read-only) data root: one
memory-mapped pack per (dataset, split, T, framing settings, source files / subset), built the first time
a sample is needed (:mod:`suite.data.cache`).

Options (keyword arguments of ``load``), per kind:

- static: ``download`` (bool, True), ``augment`` (bool, False; train split only, the reference code's
  augmentation: MNIST a random affine map, CIFAR-10 a random crop with 4-pixel zero padding and a
  horizontal flip; Fashion-MNIST has none and refuses it, see :func:`augmentation`);
- event: ``download`` (bool, True), ``cache`` (bool, True), ``cache_dir`` (path, None = the default
  cache), ``layout`` (None = the first layout found; else one of the set's layout names).

``limit=n`` keeps a deterministic class-stratified subset of ``n`` samples (:mod:`suite.data.subsets`).
Every dataset has ``targets`` (int64 labels), ``indices`` (each item's position in the full split),
``info`` and ``root`` (the data root it was read from); a static dataset also has ``files`` (its source
files); an event dataset also has ``records`` (file, label, time segment) and ``fill_cache()``, which
frames everything in file order into the pack (``loader`` calls it before starting workers).
``summarize(name, {"train": ds, "test": ds})`` says what a run saw (sizes, a digest of the files) for the
tracking store (:mod:`suite.data.summary`).
"""

from __future__ import annotations

import os
import warnings

from suite.data.batching import collate, loader
from suite.data.cache import CacheWarning
from suite.data.errors import DatasetNotFound
from suite.data.paths import cache_root, resolve_root
from suite.data.registry import REGISTRY, DatasetInfo
from suite.data.summary import DataSummary, summarize
from suite.registry import lookup

SPLITS = ("train", "test")

__all__ = [
    "CacheWarning",
    "DataSummary",
    "DatasetInfo",
    "DatasetNotFound",
    "cache_root",
    "collate",
    "augmentation",
    "info",
    "load",
    "loader",
    "names",
    "normalisation",
    "resolve_root",
    "summarize",
]


def names() -> list[str]:
    return list(REGISTRY)


def info(name: str) -> DatasetInfo:
    return _entry(name).info


def augmentation(name: str) -> str | None:
    """The training augmentation ``augment=True`` applies to dataset ``name``, in words (e.g.
    ``RandomAffine(degrees=30, ...)``); None where the set has none (the reference augments only MNIST and
    CIFAR-10). The trainer's ``augment`` setting asks this, so it is a no-op on the other sets."""
    return None if getattr(_entry(name).source, "augment", None) is None else str(_entry(name).source.augment)


def normalisation(name: str) -> str:
    """How items of dataset ``name`` are scaled, in words: the static sets' per-channel mean and std
    (applied to pixel / 255), the event sets' raw counts."""
    source = _entry(name).source
    if not hasattr(source, "mean"):
        return "raw event counts"
    return "mean ({}), std ({})".format(*(", ".join(f"{v:g}" for v in t) for t in (source.mean, source.std)))


def _entry(name: str):
    return lookup(REGISTRY, name, "dataset")


def _check_options(name: str, defaults: dict, given: dict) -> dict:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; allowed: {', '.join(defaults)}")
    options = {**defaults, **given}
    for key in ("download", "augment", "cache"):
        if key in options and not isinstance(options[key], bool):
            raise ValueError(f"{name}: {key}={options[key]!r}; want True or False")
    if options.get("cache_dir") is not None and not isinstance(options["cache_dir"], (str, os.PathLike)):
        raise ValueError(f"{name}: cache_dir={options['cache_dir']!r}; want a path or None")
    return options


def load(name: str, split: str, *, T: int, root=None, limit: int | None = None, **options):
    """The ``split`` (``'train'`` or ``'test'``) of dataset ``name`` as a torch Dataset of ``(x, label)``.

    ``T`` is the number of time steps: event sets are framed into T frames; static sets ignore it (the
    network repeats the image). The returned dataset has ``targets`` (int64 labels) and ``info``.
    """
    entry = _entry(name)
    if split not in SPLITS:
        raise ValueError(f"{name}: split={split!r}; allowed: {', '.join(SPLITS)}")
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"{name}: T={T!r}; want a positive int (the paper uses T={entry.info.paper_T})")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"{name}: limit={limit!r}; want a positive int, or None for every sample")
    opts = _check_options(name, dict(entry.source.options), options)
    ds = entry.source.open(name, resolve_root(root), split, T, limit, opts)
    ds.info, ds.root = entry.info, resolve_root(root)
    note = getattr(getattr(ds, "layout", None), "note", "")
    if note:
        warnings.warn(f"{name}: the '{ds.layout.name}' layout is {note}", UserWarning, stacklevel=2)
    return ds


def options(name: str) -> dict:
    """The options ``load`` takes for dataset ``name``, with their defaults."""
    return dict(_entry(name).source.options)
