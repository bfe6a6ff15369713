"""Every run setting, declared once: name, type, range, default, hashed or not, and what it means.

The trainer's defaults (:data:`DEFAULTS`), the study-file schema (:func:`check`), the config hash
(:data:`NOT_HASHED`), the neuron's parameters (:data:`NEURON_KEYS`) and the settings table in
ARCHITECTURE.md (:func:`markdown`, checked by a test) are all derived from :data:`SETTINGS`, so a new
setting is one line here. Any setting can be a study axis.

A default of ``None`` means "look it up": the dataset's Table 1 value (T, epochs), the reference code's
batch size, the surrogate's own alpha, no limit, all torch threads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Number = (int, float)


@dataclass(frozen=True)
class Setting:
    name: str
    types: tuple[type, ...]
    default: Any
    doc: str
    hashed: bool = True  # False: where or how fast a run executes, never what it computes
    neuron: bool = False  # passed to the neuron as a parameter
    choices: Callable[[], list[str]] | None = None  # registry of allowed names (looked up lazily)
    also: Callable[[Any], bool] | None = None  # accepts a value outside ``choices`` (a network's notation)
    rule: Callable[[Any], bool] | None = None  # the range a value must lie in ...
    allowed: str = ""  # ... said in words, for the error message

    def problem(self, value: Any) -> tuple[str, str] | None:
        """(problem, allowed) for a bad value, None for a good one. ``None`` is allowed where the default is."""
        if value is None and self.default is None:
            return None
        if isinstance(value, bool) and bool not in self.types or not isinstance(value, self.types):
            names = " or ".join("float" if t is float else t.__name__ for t in self.types)
            return f"expected {names}, got {type(value).__name__} {value!r}", ""
        if self.choices is not None:
            known = self.choices()
            if value not in known and not (self.also is not None and self.also(value)):
                return f"unknown {self.name} {value!r}", ", ".join(known)
        if self.rule is not None and not self.rule(value):
            return f"{value!r} is out of range", self.allowed
        return None


def _registry(module: str, extra: tuple[str, ...] = ()) -> Callable[[], list[str]]:
    def names() -> list[str]:
        import importlib

        return [*extra, *importlib.import_module(module).names()]

    return names


def _parses(network: str) -> bool:
    from suite import models

    try:
        models.parse(network)
        return True
    except Exception:
        return False


def _positive(v) -> bool:
    return math.isfinite(v) and v > 0


def _at_least(n: int) -> Callable[[Any], bool]:
    return lambda v: v >= n


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "dataset", (str,), "mnist", "dataset name (`suite.data.names()`)", choices=_registry("suite.data")
    ),
    Setting(
        "network",
        (str,),
        "auto",
        "network name, a string in Table 1's notation, or `auto` = the dataset's Table 1 network",
        choices=_registry("suite.models", extra=("auto",)),
        also=_parses,
    ),
    Setting(
        "neuron", (str,), "KLIF", "neuron name (`suite.neurons.names()`)", choices=_registry("suite.neurons")
    ),
    Setting(
        "surrogate",
        (str,),
        "atan",
        "surrogate gradient (`suite.neurons.surrogates.names()`)",
        neuron=True,
        choices=_registry("suite.neurons.surrogates"),
    ),
    Setting(
        "alpha",
        Number,
        None,
        "surrogate slope; None = the surrogate's default (ATan: 2)",
        neuron=True,
        rule=_positive,
        allowed="a finite number > 0",
    ),
    Setting(
        "detach_reset", (bool,), False, "detach the reset from the graph (Fang et al.'s option)", neuron=True
    ),
    Setting(
        "tau",
        Number,
        2.0,
        "membrane time constant",
        neuron=True,
        rule=lambda v: math.isfinite(v) and v > 1,
        allowed="a finite number > 1",
    ),
    Setting(
        "v_th", Number, 1.0, "firing threshold", neuron=True, rule=_positive, allowed="a finite number > 0"
    ),
    Setting(
        "encoder",
        (int,),
        3,
        "parallel convolutions of the coding layer (1 = no coding layers)",
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
    Setting(
        "encoder_norm",
        (str,),
        "shared",
        "BatchNorm of the coding layer: `shared` = one after the sum of the convs, `per-branch` = one per "
        "conv, then the sum (Fig. 3 is not in the text; `suite.models.layers.Encoder`)",
        rule=lambda v: v in ("shared", "per-branch"),
        allowed="shared, per-branch",
    ),
    Setting(
        "linear_bias",
        (bool,),
        True,
        "bias in every linear layer (Fang et al.'s published runs: none; SpikingJelly's version: a bias)",
    ),
    Setting(
        "width",
        Number,
        1.0,
        "channel multiplier of the network",
        rule=_positive,
        allowed="a finite number > 0",
    ),
    Setting(
        "T",
        (int,),
        None,
        "time steps; None = Table 1's T for the dataset",
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
    Setting(
        "epochs",
        (int,),
        None,
        "epochs; None = Table 1's epochs",
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
    Setting(
        "batch_size",
        (int,),
        None,
        "batch size; None = the reference code's",
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
    Setting(
        "drop_last",
        (bool,),
        False,
        "drop the last, incomplete training batch (the reference code: True); test batches are all kept",
    ),
    Setting("lr", Number, 1e-4, "Adam learning rate", rule=_positive, allowed="a finite number > 0"),
    Setting(
        "t_max",
        (int,),
        100,
        "cosine annealing period in epochs",
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
    Setting(
        "weight_decay",
        Number,
        0.0,
        "Adam weight decay",
        rule=lambda v: math.isfinite(v) and v >= 0,
        allowed="a finite number >= 0",
    ),
    Setting(
        "seed",
        (int,),
        0,
        "seed of weights, order and augmentation",
        rule=_at_least(0),
        allowed="an integer >= 0",
    ),
    Setting(
        "limit_train",
        (int,),
        None,
        "class-stratified training subset; None = all",
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
    Setting(
        "limit_test",
        (int,),
        None,
        "class-stratified test subset; None = all",
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
    Setting(
        "augment",
        (bool,),
        False,
        "the reference's training augmentation (MNIST random affine, CIFAR-10 crop + flip); a no-op on a "
        "dataset the reference does not augment",
    ),
    Setting("data_root", (str,), None, "dataset folder; None = `$SUITE_DATA`, else ./data", hashed=False),
    Setting(
        "device",
        (str,),
        "auto",
        "`auto` (CUDA when present), `cpu`, `cuda`, `cuda:N`, `mps`",
        rule=lambda v: _DEVICE.fullmatch(v) is not None,
        allowed="auto, cpu, cuda, cuda:N, mps",
    ),
    Setting("amp", (bool,), False, "CUDA autocast"),
    Setting(
        "workers",
        (int,),
        0,
        "DataLoader worker processes",
        hashed=False,
        rule=_at_least(0),
        allowed="an integer >= 0",
    ),
    Setting(
        "threads",
        (int,),
        None,
        "torch threads; None = torch's default",
        hashed=False,
        rule=_at_least(1),
        allowed="an integer >= 1",
    ),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
NEURON_KEYS: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.neuron)
NOT_HASHED: tuple[str, ...] = tuple(s.name for s in SETTINGS if not s.hashed)


def markdown() -> str:
    """The settings table of ARCHITECTURE.md (a test keeps the document equal to this)."""
    rows = ["| setting | type | default | hashed | meaning |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        kind = " or ".join("float" if t is float else t.__name__ for t in s.types)
        where = f"; {s.allowed}" if s.allowed else ""
        rows.append(
            f"| `{s.name}` | {kind} | `{s.default!r}` | {'yes' if s.hashed else 'no'} | {s.doc}{where} |"
        )
    return "\n".join(rows) + "\n"
