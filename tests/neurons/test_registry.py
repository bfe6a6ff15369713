"""Names, defaults and bad input."""

from __future__ import annotations

import pytest
import torch

from suite import neurons
from suite.neurons import surrogates


def test_names_are_the_tables_names():
    assert neurons.names() == [
        "LIF",
        "KLIF",
        "k-only",
        "ReLU-only",
        "KLIF*",
        "KLIF-CELU",
        "KLIF-LeakyReLU",
        "PLIF",
        "LIF-vth",
    ]


@pytest.mark.parametrize("name", neurons.names())
def test_shape_dtype_and_binary_output(name):
    n = neurons.make(name)
    x = torch.randn(5, 2, 3, 4, 4) * 3
    s = n(x)
    assert s.shape == x.shape and s.dtype == x.dtype
    assert set(s.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", neurons.names())
def test_learnable_parameters_are_per_layer_scalars(name):
    n = neurons.make(name)
    params = dict(n.named_parameters())
    v = neurons.variant(name)
    expected = {n for n, on in (("k", v.learn_k), ("w", v.learn_tau), ("v_th", v.learn_vth)) if on}
    assert set(params) == expected
    assert all(p.dim() == 0 for p in params.values())
    if v.learn_k:
        assert params["k"].item() == 1.0


def test_paper_defaults():
    n = neurons.make("KLIF")
    assert n.tau == 2.0 and n.v_th.item() == 1.0
    c = n.constants
    assert (c.v_reset, c.v_init, c.surrogate, c.alpha, c.detach_reset) == (0.0, 0.0, "atan", 2.0, False)
    assert n.k_bounds == (0.5, 5.0)
    assert neurons.make("KLIF-CELU").constants.act_param == 1.0
    assert neurons.make("KLIF-LeakyReLU").constants.act_param == 0.01


@pytest.mark.parametrize("name", surrogates.names())
def test_surrogates_integrate_to_one(name):
    s = surrogates.get(name)
    x = torch.linspace(-200, 200, 2_000_001, dtype=torch.float64)
    area = torch.trapezoid(s.grad(x, s.default_alpha), x).item()
    assert area == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: neurons.make("QIF"), r"unknown neuron 'QIF'; known neurons: LIF, KLIF, k-only"),
        (lambda: neurons.make("LIF", tau=1.0), r"tau=1.0 must be > 1"),
        (lambda: neurons.make("LIF", tau=0.5), r"tau=0.5"),
        (lambda: neurons.make("KLIF", k_bounds=(5, 0.5)), r"k_bounds=\(5, 0.5\)"),
        (lambda: neurons.make("KLIF", k_bounds=(1, 1)), r"k_bounds=\(1, 1\)"),
        (lambda: neurons.make("KLIF", k_init=9.0), r"k_init=9.0"),
        (lambda: neurons.make("KLIF", surrogate="erf"), r"unknown surrogate 'erf'; known surrogates: atan"),
        (lambda: neurons.make("KLIF", gain=2), r"unknown neuron parameter\(s\) \['gain'\]"),
        (lambda: neurons.make("LIF")(torch.ones(5)), r"input of shape \(5,\) has 1 dims"),
        (
            lambda: neurons.make("LIF")(torch.ones(2, 3, dtype=torch.long)),
            r"dtype torch.int64 is not floating",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()
