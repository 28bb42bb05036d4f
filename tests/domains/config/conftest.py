"""Audit tests that write through `database` alone still need the process-wide audit listeners."""

import pytest

from depotflow import wiring


@pytest.fixture(autouse=True)
def _audit_listeners_installed() -> None:
    wiring.configure()
