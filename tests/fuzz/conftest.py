"""Fuzz runs: a bounded number of examples in ``make test``; ``LISA_FUZZ_EXAMPLES=N`` (``make
soak``) runs N examples per test and prints how many messages were generated and handled."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fuzz_counts import COUNTS


@pytest.fixture(scope="session", autouse=True)
def _report() -> Iterator[None]:
    yield
    if "LISA_FUZZ_EXAMPLES" in os.environ:
        for what, n in sorted(COUNTS.items()):
            print(f"fuzz {what}: {n:,} generated, handled without a crash")
