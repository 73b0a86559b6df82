"""Fixtures for the media tests: a real coturn on loopback (Debian package ``coturn``).

``coturn``: a started :class:`~.coturn.Coturn` with a static user (``lt-cred-mech``);
``coturn_secret``: one with TURN REST API credentials (``use-auth-secret``). Both skip the test
when ``/usr/bin/turnserver`` is missing and stop the server afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .coturn import TURNSERVER, Coturn, turnserver_binary


def _require_turnserver() -> None:
    if turnserver_binary() is None:
        pytest.skip(f"coturn is not installed ({TURNSERVER} missing; Debian package 'coturn')")


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    """A running coturn with the static user ``alice``/``s3cret``."""
    _require_turnserver()
    with Coturn(tmp_path / "coturn") as server:
        yield server


@pytest.fixture
def coturn_secret(tmp_path: Path) -> Iterator[Coturn]:
    """A running coturn checking TURN REST API credentials against ``.secret``."""
    _require_turnserver()
    with Coturn(tmp_path / "coturn-secret", auth="secret") as server:
        yield server
