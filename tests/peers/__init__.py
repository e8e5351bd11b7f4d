"""Protocol peers the channel adapters are tested against (SMPP SMSC, Kannel, provider HTTP APIs).

A peer that is not installed is a skip with its reason on a developer's machine and a failure in CI (``CI=true``),
so a CI run never passes without having exercised the real protocols. A peer that is installed but does not start
is a failure everywhere. Fixtures start peers inside :func:`started`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


class PeerError(RuntimeError):
    """A peer could not be started."""


class PeerMissing(PeerError):
    """A peer's program or packages are not installed (scripts/install-peers.sh installs them)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


@contextmanager
def started() -> Iterator[None]:
    """Run a peer's start-up: a missing peer skips (outside CI) or fails (in CI); a broken one fails."""
    try:
        yield
    except PeerMissing as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI=true: a missing peer fails the run)")
        pytest.skip(f"{exc} (outside CI a missing peer is skipped)")
    except PeerError as exc:
        pytest.fail(str(exc))
