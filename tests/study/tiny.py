"""The tiny study the runner and executor tests train: LIF vs KLIF on an MNIST subset, seconds per run."""

from __future__ import annotations


def tiny(
    name: str = "tiny", *, epochs: int, n: int, title: str = "LIF vs KLIF on MNIST", base: str = ""
) -> str:
    """The study file's text; ``base``: extra ``[base]`` lines (e.g. DataLoader workers)."""
    return f"""
name = "{name}"
title = "{name}: {title}"
seeds = [0]
[base]
dataset = "mnist"
width = 0.125
T = 2
batch_size = 50
lr = 1e-3
{base}
[grid]
neuron = ["LIF", "KLIF"]
[profiles.smoke]
epochs = {epochs}
t_max = {epochs}
limit_train = {n}
limit_test = 100
"""
