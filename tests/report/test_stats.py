"""The t quantile and the paired interval, against published t tables and a case worked by hand."""

from __future__ import annotations

import math

import pytest

from suite.report.stats import betainc, paired_ci, summarize, t_cdf, t_quantile

# Two-sided 95% critical values (t_{0.975, df}) as printed in standard t tables.
T_975 = {
    1: 12.7062,
    2: 4.3027,
    3: 3.1824,
    4: 2.7764,
    5: 2.5706,
    9: 2.2622,
    10: 2.2281,
    29: 2.0452,
    30: 2.0423,
    120: 1.9799,
}


@pytest.mark.parametrize("df,expected", sorted(T_975.items()))
def test_t_quantile_matches_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=6e-5)


def test_t_quantile_approaches_normal_and_is_symmetric():
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)
    assert t_quantile(0.025, 7) == pytest.approx(-t_quantile(0.975, 7), rel=1e-12)
    assert t_cdf(t_quantile(0.9, 3), 3) == pytest.approx(0.9, abs=1e-12)


def test_t_quantile_matches_scipy_where_installed():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 7, 15, 60, 500):
        for p in (0.6, 0.9, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)


def test_betainc_closed_forms():
    # I_x(1, 1) = x ; I_x(a, 1) = x^a ; I_x(1, b) = 1 - (1-x)^b
    assert betainc(1, 1, 0.3) == pytest.approx(0.3, abs=1e-14)
    assert betainc(2.5, 1, 0.4) == pytest.approx(0.4**2.5, abs=1e-14)
    assert betainc(1, 3, 0.2) == pytest.approx(1 - 0.8**3, abs=1e-14)


def test_paired_ci_hand_computed():
    # diffs 1, 2, 3: mean 2, s = 1, se = 1/sqrt(3), t_{0.975,2} = 4.302653 -> half width 2.484138
    d = paired_ci([1.0, 2.0, 3.0])
    assert (d.mean, d.n) == (2.0, 3)
    assert d.lo == pytest.approx(2 - 4.302653 / math.sqrt(3), abs=1e-6)
    assert d.hi == pytest.approx(2 + 2.484138, abs=1e-6)


def test_single_pair_has_no_interval_and_nothing_is_none():
    one = paired_ci([0.7])
    assert (one.mean, one.lo, one.hi, one.n) == (0.7, None, None, 1)
    assert paired_ci([]) is None
    assert summarize([]) is None
    s = summarize([90.0, 92.0])
    assert (s.mean, s.n) == (91.0, 2) and s.std == pytest.approx(math.sqrt(2))
    assert summarize([5.0]).std is None
