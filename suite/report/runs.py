"""MLflow -> pandas: the finished child runs of one study and profile, and their per-epoch history.

Why a single loader: every table and figure must see the same set of runs, chosen by the same rules
(``suite.role=child``, ``suite.status=finished``, the profile tag, newest run per config hash), so that a cell
can never quietly draw on a run another cell ignored. Params arrive from MLflow as strings; they are typed
per column here (int, then float, then bool, else text) so that ``seed == 0`` and ``encoder == 3`` mean what
they say everywhere downstream.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from suite.contract import FINAL_METRICS, PROFILE_NAME, Role, RunStatus, Tag, tag_filter

ID_COLUMNS = ("run_id", "config_hash")
# Run tag -> column. ``device`` is the device the run actually used (a config may ask for "auto").
TAG_COLUMNS = {
    "commit": Tag.COMMIT,
    "hardware": Tag.HARDWARE,
    "host": Tag.HOST,
    "data_sizes": Tag.DATA_SIZES,
    "device": Tag.DEVICE,
    # Optional: the spiking layers in forward order, comma-separated (orders the layers of Figs. 5 and 6).
    "layers": Tag.LAYERS,
    # Optional (runs since the thread split was tagged): CPU model, torch threads, runs sharing the machine.
    "cpu": Tag.CPU,
    "run_threads": Tag.THREADS,
    "concurrent_runs": Tag.WORKERS,
}
EPOCH_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "synops", "epoch_time")
# Per layer: k, mean rate, and percentiles of the per-neuron rates (``rate_q/<layer>/p50``; last epoch only).
LAYER_PREFIXES = ("k/", "rate/", "rate_q/")
# A param whose name collides with a column above keeps its value under this prefix; an unknown metric that
# is not per-epoch lands in ``runs`` under the other. Neither is ever taken for a setting.
PARAM_PREFIX, METRIC_PREFIX = "param:", "metric:"

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_BOOL = {"true": True, "false": False}
NONE = "None"


def is_epoch_metric(key: str) -> bool:
    return key in EPOCH_METRICS or key.startswith(LAYER_PREFIXES)


def _reserved() -> set[str]:
    return {*ID_COLUMNS, *TAG_COLUMNS, *FINAL_METRICS, *EPOCH_METRICS}


def setting_columns(runs: pd.DataFrame, *, ignore: Iterable[str] = ()) -> list[str]:
    """The config columns of ``runs`` (everything a run was asked to do), minus ``ignore``.

    Two runs with equal settings except the seed are replicates; the tables pool them and nothing else.
    """
    skip = _reserved() | set(ignore)
    return [
        c
        for c in runs.columns
        if c not in skip and not c.startswith((METRIC_PREFIX, PARAM_PREFIX)) and not is_epoch_metric(c)
    ]


def parse_scalar(text: str):
    """int, float or bool where the string is one, None for "None", else the string itself."""
    s = text.strip()
    if s == NONE:
        return None
    if _INT.fullmatch(s):
        return int(s)
    if _FLOAT.fullmatch(s):
        return float(s)
    return _BOOL.get(s.lower(), text)


def canonical(value):
    """A comparable form of a config value, however it arrived (TOML int, typed column, MLflow string)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        if np.isnan(v):
            return None
        return int(v) if v.is_integer() else v
    if isinstance(value, str):
        parsed = parse_scalar(value)
        return parsed if isinstance(parsed, str) else canonical(parsed)
    return value


def _typed(raw: list[str | None]) -> pd.Series:
    """One typed column: the narrowest of int, float, bool that every present value parses as.

    The runner logs an unset setting as the string "None"; it is a missing value here, not text.
    """
    values = [None if v is None or v.strip() == NONE else v for v in raw]
    present = [v.strip() for v in values if v is not None]
    has_missing = len(present) < len(values)
    if present and all(_INT.fullmatch(v) for v in present):
        return pd.Series(
            [None if v is None else int(v) for v in values], dtype="Int64" if has_missing else "int64"
        )
    if present and all(_INT.fullmatch(v) or _FLOAT.fullmatch(v) for v in present):
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if present and all(v.lower() in _BOOL for v in present):
        parsed = [None if v is None else _BOOL[v.strip().lower()] for v in values]
        return pd.Series(parsed, dtype="boolean" if has_missing else "bool")
    return pd.Series(values, dtype=object)


def empty_runs() -> pd.DataFrame:
    cols = [*ID_COLUMNS, "seed", *FINAL_METRICS, *TAG_COLUMNS]
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in FINAL_METRICS else object) for c in cols})


def empty_history() -> pd.DataFrame:
    return pd.DataFrame({"run_id": pd.Series(dtype=object), "epoch": pd.Series(dtype="int64")})


def _search(client, experiment_id: str, filter_string: str) -> list:
    found, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=filter_string, max_results=1000, page_token=token
        )
        found.extend(page)
        token = page.token
        if not token:
            return found


def _newest_per_hash(found: list) -> list:
    """Keep the newest finished run of each config hash (a rerun supersedes, it does not add a replicate)."""
    ordered = sorted(found, key=lambda r: (-(r.info.start_time or 0), r.info.run_id))
    kept, seen = [], set()
    for r in ordered:
        key = r.data.tags.get(Tag.CONFIG_HASH) or r.info.run_id
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return sorted(kept, key=lambda r: (r.data.tags.get(Tag.CONFIG_HASH, ""), r.info.run_id))


def _runs_frame(kept: list) -> pd.DataFrame:
    if not kept:
        return empty_runs()
    reserved = _reserved() | {"seed"}
    param_keys = sorted({k for r in kept for k in r.data.params})
    metric_keys = sorted({k for r in kept for k in r.data.metrics if not is_epoch_metric(k)})
    cols: dict[str, pd.Series] = {
        "run_id": pd.Series([r.info.run_id for r in kept], dtype=object),
        "config_hash": pd.Series([r.data.tags.get(Tag.CONFIG_HASH) for r in kept], dtype=object),
    }
    seed = _typed([r.data.params.get("seed") for r in kept])
    cols["seed"] = seed
    for k in param_keys:
        if k == "seed":
            continue
        name = PARAM_PREFIX + k if k in reserved or k.startswith((PARAM_PREFIX, METRIC_PREFIX)) else k
        cols[name] = _typed([r.data.params.get(k) for r in kept])
    for k in (*FINAL_METRICS, *(m for m in metric_keys if m not in FINAL_METRICS)):
        name = k if k in FINAL_METRICS else METRIC_PREFIX + k
        cols[name] = pd.Series([r.data.metrics.get(k, np.nan) for r in kept], dtype="float64")
    for col, tag in TAG_COLUMNS.items():
        cols[col] = pd.Series([r.data.tags.get(tag) for r in kept], dtype=object)
    return pd.DataFrame(cols)


def _history_frame(client, kept: list) -> pd.DataFrame:
    rows: dict[tuple[str, int], dict[str, float]] = {}
    keys: set[str] = set()
    for r in kept:
        for key in sorted(k for k in r.data.metrics if k not in FINAL_METRICS):
            latest: dict[int, tuple[int, float]] = {}
            for m in client.get_metric_history(r.info.run_id, key):
                if m.step >= 1 and (m.step not in latest or m.timestamp >= latest[m.step][0]):
                    latest[m.step] = (m.timestamp, m.value)
            for step, (_, value) in latest.items():
                rows.setdefault((r.info.run_id, step), {})[key] = value
                keys.add(key)
    if not rows:
        return empty_history()
    ordered = [k for k in EPOCH_METRICS if k in keys] + sorted(keys - set(EPOCH_METRICS))
    index = sorted(rows)
    frame = {
        "run_id": pd.Series([i[0] for i in index], dtype=object),
        "epoch": pd.Series([i[1] for i in index], dtype="int64"),
    }
    for k in ordered:
        frame[k] = pd.Series([rows[i].get(k, np.nan) for i in index], dtype="float64")
    return pd.DataFrame(frame)


def load_runs(study: str, profile: str, tracking_uri: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, history) of the finished child runs of ``study`` (the experiment name) under ``profile``.

    runs: one row per config hash (the newest finished run): run_id, config_hash, seed, every param as a
    typed column, the final metrics (NaN where a run did not log one), and the tags commit, hardware, host,
    data_sizes, device. history: run_id, epoch (1-based) and one column per per-epoch metric.
    """
    from mlflow.tracking import MlflowClient

    if not PROFILE_NAME.fullmatch(profile):
        raise ValueError(f"profile must match {PROFILE_NAME.pattern}, got {profile!r}")
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return empty_runs(), empty_history()
    filter_string = tag_filter(ROLE=Role.CHILD, STATUS=RunStatus.FINISHED, PROFILE=profile)
    kept = _newest_per_hash(_search(client, experiment.experiment_id, filter_string))
    return _runs_frame(kept), _history_frame(client, kept)
