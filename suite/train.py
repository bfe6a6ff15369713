"""One training run from one flat config dict: the paper's recipe, checkpointed every epoch.

Read top to bottom: resolve the config, seed, build data and network, restore the last good checkpoint,
then for each epoch train, evaluate, probe, checkpoint and report through ``callback``. It knows nothing
of MLflow; the study runner does the tracking (``on_data`` hands it what the run trains and tests on, a
:class:`suite.data.DataSummary`, once the data is loaded and before the first epoch).

Recipe (Sec. 3): Adam, lr 1e-4, cosine annealing with T_max = 100, MSE between the class firing rates
and the one-hot label, Table 1's T and epochs. Where the paper is silent the study profiles take the PLIF
reference code's protocol (batch 16, ``drop_last``, ``augment``, ``detach_reset``; ``python -m suite
check-paper`` lists every choice). ``CosineAnnealingLR`` is periodic: with more epochs than ``t_max`` (the
paper's 200-epoch sets) the rate reaches 0 at epoch ``t_max`` and rises again, which the report's footer
says. Accuracy is reported in percent, the paper's and its
reference code's way (best test accuracy over epochs) beside the final epoch's.

Resume: a checkpoint holds model, optimizer, scheduler, every RNG state, the epoch and the metrics so
far; the shuffling order of epoch e is drawn from ``(seed, e)``, so a run killed after any epoch and
restarted ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import os
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as fn

from suite import data, models, neurons, settings
from suite.models import probes


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every default filled in and the dataset-dependent ones looked up."""
    unknown = sorted(set(config) - set(settings.DEFAULTS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; allowed: {', '.join(settings.DEFAULTS)}")
    cfg = {**settings.DEFAULTS, **config}  # every setting and its default: suite.settings
    info = data.info(cfg["dataset"])
    if cfg["network"] == "auto":
        cfg["network"] = info.table1_network
    for key, paper in (
        ("T", info.paper_T),
        ("epochs", info.paper_epochs),
        ("batch_size", info.paper_batch_size),
    ):
        if cfg[key] is None:
            cfg[key] = paper
    return cfg


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state(device: torch.device | None = None) -> dict[str, Any]:
    """Every RNG state as tensors and plain Python values, so ``torch.load(weights_only=True)`` reads it.

    On CUDA, the training device's generator only: how many GPUs a worker sees may change between an
    interruption and the resume (pinning), and a CPU run must not start CUDA at all.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _save_checkpoint(workdir: Path, epoch: int, payload: dict[str, Any], keep: int = 2) -> Path:
    path = workdir / f"ckpt-{epoch:04d}.pt"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: a reader sees the old file list or the complete new file
    for old in sorted(workdir.glob("ckpt-*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(workdir: Path) -> dict[str, Any] | None:
    """The newest readable checkpoint; a corrupt or unsafe one is refused in one line and the previous used.

    Checkpoints hold only tensors and plain Python values and are read with ``weights_only=True``: a file
    planted in a run folder cannot run code on resume (a full unpickler would execute whatever it names).
    """
    for path in sorted(workdir.glob("ckpt-*.pt"), reverse=True):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            why = str(err).strip().splitlines()[0] if str(err).strip() else ""
            old = " (an older, pickled format: the run restarts)" if "numpy" in str(err) else ""
            warnings.warn(
                f"corrupt checkpoint {path}, or not loadable safely ({type(err).__name__}: {why[:200]}): "
                f"refused{old}; trying the previous one",
                stacklevel=2,
            )
    return None


def pick_device(name: str) -> str:
    """The device a run uses: ``auto`` is CUDA where present. Decided on the machine that trains."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(torch.device(name))


def _run_epoch(model, batches, device, cfg, num_classes, optimizer=None):
    """One pass over ``batches``; trains when an optimizer is given. Returns (mean loss, accuracy %)."""
    training = optimizer is not None
    model.train(training)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    count = 0
    use_amp = bool(cfg["amp"]) and device.type == "cuda"
    with torch.set_grad_enabled(training):
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.autocast(device.type, enabled=use_amp):
                rates = model(x)
            loss = fn.mse_loss(rates.float(), fn.one_hot(y, num_classes).float())
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total_loss += loss.detach() * y.numel()
            correct += (rates.argmax(1) == y).sum()
            count += y.numel()
    return (total_loss / count).item(), 100.0 * correct.item() / count


def _datasets(cfg: dict[str, Any]):
    """Deterministic, class-stratified subsets.

    ``augment`` means "the reference's training augmentation where it has one" (MNIST's random affine,
    CIFAR-10's crop + flip): on Fashion-MNIST and the event sets, which the reference trains unaugmented,
    it is a no-op rather than an error, so one profile can set it for a study over all six sets and each
    gets the reference's protocol. ``suite.data.augmentation`` names what a set applies; the data layer
    itself still refuses an explicit ``augment=True`` on a set without one.
    """
    augment = {"augment": True} if cfg["augment"] and data.augmentation(cfg["dataset"]) else {}
    train_set = data.load(
        cfg["dataset"], "train", T=cfg["T"], root=cfg["data_root"], limit=cfg["limit_train"], **augment
    )
    test_set = data.load(cfg["dataset"], "test", T=cfg["T"], root=cfg["data_root"], limit=cfg["limit_test"])
    return train_set, test_set


def _network(cfg: dict[str, Any], info) -> torch.nn.Module:
    return models.make(
        cfg["network"],
        neuron=cfg["neuron"],
        in_shape=info.in_shape,
        num_classes=info.num_classes,
        T=cfg["T"],
        width=cfg["width"],
        encoder=cfg["encoder"],
        encoder_norm=cfg["encoder_norm"],
        linear_bias=cfg["linear_bias"],
        neuron_params={k: cfg[k] for k in settings.NEURON_KEYS if cfg[k] is not None},
    )


def _epoch_metrics(epoch, train_stats, test_stats, scheduler, probe, model, epoch_time) -> dict[str, Any]:
    metrics = {
        "epoch": epoch,
        "train_loss": train_stats[0],
        "train_acc": train_stats[1],
        "test_loss": test_stats[0],
        "test_acc": test_stats[1],
        "lr": scheduler.get_last_lr()[0],
        "synops": probe.synops_per_sample(),
        "epoch_time": epoch_time,
        **{f"k/{name}": v for name, v in probes.k_values(model).items()},
        **{f"rate/{name}": v for name, v in probe.firing_rates().items()},
    }
    if probe.per_neuron:  # the last epoch: percentiles of the per-neuron rates, Fig. 6's distributions
        pct = probe.rate_percentiles()
        metrics |= {f"rate_q/{name}/p{p:02d}": v for name, ps in pct.items() for p, v in ps.items()}
    # Plain floats (not numpy scalars): the checkpoint that holds the history loads with weights_only.
    return {k: v if k == "epoch" or v is None else float(v) for k, v in metrics.items()}


def _summary(cfg, history, model, train_set, test_set, wall, workdir: Path) -> dict[str, Any]:
    return {
        "config": cfg,
        "finished": bool(history) and history[-1]["epoch"] == cfg["epochs"],
        "history": history,
        "best_test_acc": max((h["test_acc"] for h in history), default=float("nan")),
        "final_test_acc": history[-1]["test_acc"] if history else float("nan"),
        "n_params": probes.param_count(model),
        "n_train": len(train_set),
        "n_test": len(test_set),
        "wall_time_s": wall,
        "final_checkpoint": str(sorted(workdir.glob("ckpt-*.pt"))[-1]) if history else None,
    }


def train(
    config: dict[str, Any],
    *,
    workdir: str | os.PathLike,
    callback: Callable[[dict[str, Any]], None] | None = None,
    stop_after: int | None = None,
    on_data: Callable[[data.DataSummary], None] | None = None,
) -> dict[str, Any]:
    """Train one run; resume from ``workdir``'s last good checkpoint if there is one.

    ``callback`` receives each new epoch's metrics, ``on_data`` the summary of the loaded data (also on a
    resume: the same summary again). ``stop_after`` ends the call after that many new
    epochs (the run stays resumable): tests use it to simulate a kill.
    """
    cfg = resolve(config)
    cfg["device"] = pick_device(cfg["device"])
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if cfg["threads"]:
        torch.set_num_threads(int(cfg["threads"]))
    _seed_everything(int(cfg["seed"]))
    device = torch.device(cfg["device"])
    info = data.info(cfg["dataset"])
    train_set, test_set = _datasets(cfg)
    if on_data is not None:
        on_data(data.summarize(cfg["dataset"], {"train": train_set, "test": test_set}))

    # Network, optimizer, schedule; k is projected back into its bounds after every step.
    model = _network(cfg, info).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["t_max"])
    neurons.constrain(optimizer, model)
    probe = probes.attach(model)

    history: list[dict[str, Any]] = []
    start_epoch, wall = 1, 0.0
    ckpt = load_checkpoint(workdir)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        _set_rng_state(ckpt["rng"], device)
        history, start_epoch, wall = ckpt["history"], ckpt["epoch"] + 1, ckpt["wall_time_s"]

    # Built once (workers persist); epoch e's order is drawn from (seed, e) by set_epoch.
    seed = int(cfg["seed"])
    if cfg["drop_last"] and len(train_set) < cfg["batch_size"]:
        raise ValueError(
            f"drop_last: {len(train_set)} training samples are fewer than one batch of {cfg['batch_size']}: "
            "every epoch would be empty; lower batch_size or set drop_last = false"
        )
    train_loader = data.loader(
        train_set,
        cfg["batch_size"],
        shuffle=True,
        workers=cfg["workers"],
        seed=seed,
        drop_last=cfg["drop_last"],
    )
    test_loader = data.loader(test_set, cfg["batch_size"], shuffle=False, workers=cfg["workers"])

    new_epochs = 0
    for epoch in range(start_epoch, cfg["epochs"] + 1):
        if stop_after is not None and new_epochs >= stop_after:
            break
        t0 = time.perf_counter()
        train_loader.set_epoch(epoch)
        probe.enabled = False  # firing rates and synops are measured on the test set
        train_stats = _run_epoch(model, train_loader, device, cfg, info.num_classes, optimizer)
        scheduler.step()

        probe.per_neuron = epoch == cfg["epochs"]  # per-neuron rates cost memory: the last epoch's only
        probe.reset()
        probe.enabled = True
        test_stats = _run_epoch(model, test_loader, device, cfg, info.num_classes)
        epoch_time = time.perf_counter() - t0
        wall += epoch_time

        metrics = _epoch_metrics(epoch, train_stats, test_stats, scheduler, probe, model, epoch_time)
        history.append(metrics)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        state |= {"scheduler": scheduler.state_dict(), "rng": _rng_state(device)}
        _save_checkpoint(
            workdir, epoch, {**state, "epoch": epoch, "history": history, "wall_time_s": wall, "config": cfg}
        )
        new_epochs += 1
        if callback is not None:
            callback(metrics)

    return _summary(cfg, history, model, train_set, test_set, wall, workdir)
