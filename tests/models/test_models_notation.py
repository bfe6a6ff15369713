"""The Table 1 notation parser: sequences, repetition, the parallel encoder group, and clear errors."""

from __future__ import annotations

import re

import pytest

from suite.models.notation import FC, Conv, Parallel, Pool, Vote, parse


def test_sequence():
    assert parse("128C3-MP2-2048FC-AP10") == [Conv(128, 3), Pool(2), FC(2048), Vote(10)]


def test_repetition_expands_in_order():
    assert parse("(256C3-MP2)*2") == [Conv(256), Pool(2), Conv(256), Pool(2)]
    assert parse("(64C3-(32C3)*2)*2") == [Conv(64), Conv(32), Conv(32)] * 2


def test_grouping_without_repetition_inlines():
    assert parse("2048FC-(100FC-AP10)") == [FC(2048), FC(100), Vote(10)]


def test_parallel_group():
    assert parse("(128C3+128C3+128C3)") == [Parallel((Conv(128),) * 3)]


def test_table1_cifar10_layer_count():
    layers = parse("(128C3+128C3+128C3)-(256C3-256C3-256C3-MP2)*2-2048FC-(100FC-AP10)")
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == ["Parallel"] + (["Conv"] * 3 + ["Pool"]) * 2 + ["FC", "FC", "Vote"]


def test_pooling_right_after_the_encoder_group():
    """Reading (a) of Table 1 (Fang et al.'s first block, the encoder in place of its conv, keeps its MP2)."""
    layers = parse("(128C3+128C3+128C3)-MP2-128C3-MP2-2048FC-(100FC-AP10)")
    assert layers == [Parallel((Conv(128),) * 3), Pool(2), Conv(128), Pool(2), FC(2048), FC(100), Vote(10)]


def test_spaces_ignored_and_kernel_sizes_read():
    assert parse(" 32C5 - MP3 ") == [Conv(32, 5), Pool(3)]


def test_layers_print_as_notation():
    text = "(8C3+8C3)-16C3-MP2-32FC-AP10"
    assert "-".join(map(str, parse(text))) == text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("128C3-MP2-2048FC-(100FC-API0)", "'API0' at position 24"),  # the paper's OCR typo
        ("128C3-Conv", "'Conv'"),
        ("128C3--MP2", "'-' at position 6"),
        ("(128C3-MP2", "end of the string"),
        ("128C3-MP2)", "')' at position 9"),
        ("128C3-MP2*2", "'*2'"),
        ("(128C3)*0", "'*0'"),
        ("(128C3+128C3-MP2)", "branch starting with '128C3' at position 7"),
        ("(128C3+64C3)", "'64C3' at position 7"),
        ("(MP2+MP2)", "'MP2'"),
        ("128C4", "'128C4'"),
        ("0FC", "'0FC'"),
        ("", "non-empty"),
    ],
)
def test_bad_strings_name_the_token(text, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        parse(text)
