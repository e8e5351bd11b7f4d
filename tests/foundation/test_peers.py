"""A missing peer is a skip with its reason on a developer's machine and a failure in CI."""

from __future__ import annotations

import pytest

from tests.conftest import require_peer, tcp_probe


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_a_missing_peer_is_a_skip_with_its_reason_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as out:
        require_peer("Redis (test)", tcp_probe("127.0.0.1", _closed_port()))
    assert "Redis (test) is not available" in str(out.value) and "setup-test-env.sh" in str(out.value)


def test_a_missing_peer_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as out:
        require_peer("PostgreSQL (test)", tcp_probe("127.0.0.1", _closed_port()))
    assert "PostgreSQL (test) is not available" in str(out.value) and "CI=true" in str(out.value)


def test_a_present_peer_passes_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    require_peer("nothing to probe", lambda: None)
