"""Table 1's network notation, parsed into a flat list of layers.

The KLIF paper (Table 1 and its note) writes each network as one string, e.g. MNIST's
``(128C3+128C3+128C3)-128C3-MP2-2048FC-(100FC-AP10)``. The grammar, as the note defines it:

=============  =====================================================================================
``nCk``        convolution, n output channels, k x k kernel, stride 1, padding k // 2 ("same")
``MPn``        2-D max-pooling, kernel n, stride n
``nFC``        fully connected layer with n outputs
``APn``        1-D average pooling, kernel n, stride n, over the last FC's outputs: the voting decoder
``a-b``        a, then b
``(a+b+c)``    parallel convolutions whose outputs are summed (only the encoder, Sec. 2.4)
``(...)``      grouping; ``(...)*n`` repeats the group n times
=============  =====================================================================================

What a layer means inside a network (BatchNorm, neuron, dropout) is decided where the network is built
(:mod:`suite.models.notation_net`); this module only reads the string. :func:`parse` expands repetitions and
returns plain data (:class:`Conv`, :class:`Pool`, :class:`FC`, :class:`Vote`, :class:`Parallel`); a malformed
string raises one ``ValueError`` that names the offending token and its position.

The paper's text has the OCR typo "API0" for AP10 in every row; the strings registered in
:mod:`suite.models` read it as AP10 and the parser rejects "API0" like any other unknown token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FC", "Conv", "Layer", "Parallel", "Pool", "Vote", "parse"]


@dataclass(frozen=True)
class Conv:
    channels: int
    kernel: int = 3

    def __str__(self) -> str:
        return f"{self.channels}C{self.kernel}"


@dataclass(frozen=True)
class Pool:
    kernel: int = 2

    def __str__(self) -> str:
        return f"MP{self.kernel}"


@dataclass(frozen=True)
class FC:
    features: int

    def __str__(self) -> str:
        return f"{self.features}FC"


@dataclass(frozen=True)
class Vote:
    """``APn``: average each group of ``n`` consecutive outputs of the previous FC into one class score."""

    voters: int = 10

    def __str__(self) -> str:
        return f"AP{self.voters}"


@dataclass(frozen=True)
class Parallel:
    """``(nC3+nC3+...)``: identical convolutions applied to the same input, outputs summed."""

    branches: tuple[Conv, ...]

    def __str__(self) -> str:
        return "(" + "+".join(map(str, self.branches)) + ")"


Layer = Conv | Pool | FC | Vote | Parallel

_ALLOWED = "nCk (conv), MPn (max-pool), nFC (fully connected), APn (voting pool), '-', '+', '(', ')', '*n'"
_TOKEN = re.compile(
    r"(?P<conv>\d+C\d+)|(?P<pool>MP\d+)|(?P<fc>\d+FC)|(?P<vote>AP\d+)|(?P<rep>\*\d+)|(?P<punct>[()+\-])"
)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """``(kind, token, position)`` triples; spaces are ignored, anything else unknown is an error."""
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = re.match(r"[^\s()+\-*]+|.", text[pos:]).group(0)
            raise ValueError(
                f"network notation {text!r}: unknown token {bad!r} at position {pos}; allowed: {_ALLOWED}"
            )
        kind = m.lastgroup
        tokens.append((m.group(0) if kind == "punct" else kind, m.group(0), pos))
        pos = m.end()
    return tokens


def _number(token: str) -> int:
    return int(re.search(r"\d+", token).group(0))


def _atom(kind: str, token: str, text: str, pos: int) -> Layer:
    if kind == "conv":
        channels, kernel = (int(v) for v in token.split("C"))
        if channels < 1 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(
                f"network notation {text!r}: {token!r} at position {pos} needs n >= 1 channels and an odd "
                "kernel k >= 1 (stride 1, padding k // 2 keeps the size)"
            )
        return Conv(channels, kernel)
    n = _number(token)
    if n < 1:
        raise ValueError(f"network notation {text!r}: {token!r} at position {pos} needs a size >= 1")
    return {"pool": Pool, "fc": FC, "vote": Vote}[kind](n)


class _Parser:
    """Recursive descent over ``seq := item ('-' item)*``, ``item := atom | '(' body ')' ['*' n]``."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def error(self, what: str) -> ValueError:
        if self.i < len(self.tokens):
            _, token, pos = self.tokens[self.i]
            return ValueError(f"network notation {self.text!r}: {what}, got {token!r} at position {pos}")
        return ValueError(f"network notation {self.text!r}: {what}, got the end of the string")

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def sequence(self) -> list[Layer]:
        layers = self.item()
        while self.peek() == "-":
            self.take()
            layers += self.item()
        return layers

    def item(self) -> list[Layer]:
        kind = self.peek()
        if kind in ("conv", "pool", "fc", "vote"):
            _, token, pos = self.take()
            return [_atom(kind, token, self.text, pos)]
        if kind != "(":
            raise self.error("expected a layer (nCk, MPn, nFC, APn) or '('")
        self.take()
        body = self.group_body()
        if self.peek() != ")":
            raise self.error("expected ')' or '-'")
        self.take()
        if self.peek() == "rep":
            _, token, pos = self.take()
            n = _number(token)
            if n < 1:
                raise ValueError(
                    f"network notation {self.text!r}: repetition {token!r} at position {pos} must be >= 1"
                )
            body = body * n
        return body

    def group_body(self) -> list[Layer]:
        start = self.i
        first = self.sequence()
        if self.peek() != "+":
            return first
        branches = [(start, first)]
        while self.peek() == "+":
            self.take()
            branches.append((self.i, self.sequence()))
        for at, branch in branches:
            _, token, pos = self.tokens[at]
            if not (len(branch) == 1 and isinstance(branch[0], Conv)):
                raise ValueError(
                    f"network notation {self.text!r}: the parallel branch starting with {token!r} at "
                    f"position {pos} is not a single convolution; '(a+b+...)' sums single convolutions"
                )
            if branch[0] != branches[0][1][0]:
                raise ValueError(
                    f"network notation {self.text!r}: parallel branch {token!r} at position {pos} differs "
                    f"from the first branch {self.tokens[start][1]!r}; summed convolutions must be identical"
                )
        return [Parallel(tuple(b[0] for _, b in branches))]


def parse(text: str) -> list[Layer]:
    """The layers of ``text``, repetitions expanded, in order. Raises ``ValueError`` on a malformed string."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"network notation {text!r}: expected a non-empty string such as '128C3-MP2-100FC-AP10'"
        )
    p = _Parser(text)
    layers = p.sequence()
    if p.i != len(p.tokens):
        raise p.error("expected '-' between layers or the end of the string")
    return layers
