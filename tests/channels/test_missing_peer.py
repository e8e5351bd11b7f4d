"""A missing peer is a skip with its reason outside CI and a failure in CI; a broken peer fails everywhere."""

from __future__ import annotations

import pytest

from tests.peers import started
from tests.peers.kannel import KannelNotInstalled, KannelUnavailable
from tests.peers.smpp_peer import PeerNotInstalled, PeerUnavailable

MISSING = [PeerNotInstalled("SMPP peer not installed: run scripts/install-peers.sh"),
           KannelNotInstalled("Kannel not installed: run scripts/install-peers.sh")]


@pytest.mark.parametrize("exc", MISSING, ids=["smpp", "kannel"])
def test_outside_ci_a_missing_peer_is_a_skip_with_its_reason(exc: Exception,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as info, started():
        raise exc
    assert str(exc) in str(info.value)


@pytest.mark.parametrize("exc", MISSING, ids=["smpp", "kannel"])
def test_in_ci_a_missing_peer_fails(exc: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info, started():
        raise exc
    assert str(exc) in str(info.value)


@pytest.mark.parametrize("exc", [PeerUnavailable("SMPP peer did not start"),
                                 KannelUnavailable("smsbox did not answer")], ids=["smpp", "kannel"])
def test_an_installed_peer_that_does_not_start_fails_outside_ci_too(exc: Exception,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.fail.Exception), started():
        raise exc
