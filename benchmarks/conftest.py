"""Collects derived figures (ratios against baselines measured in the same run) and prints them at the end."""

from __future__ import annotations

import pytest

RESULTS: list[tuple[str, str]] = []


@pytest.fixture(scope="session")
def report():
    def add(section: str, line: str) -> None:
        RESULTS.append((section, line))

    return add


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    terminalreporter.section("klif-suite benchmark ratios")
    last = None
    for section, line in RESULTS:
        if section != last:
            terminalreporter.write_line(f"[{section}]")
            last = section
        terminalreporter.write_line(f"  {line}")
