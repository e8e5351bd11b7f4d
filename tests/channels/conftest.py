"""Peers for the channel tests, started once per session on free 127.0.0.1 ports and stopped at the end.

The SMPP peer needs node + ``npm ci`` in tests/peers/smpp and Kannel needs Debian's ``kannel`` package; both are
installed by ``scripts/install-peers.sh``. A missing peer skips the tests that need it, with that hint, outside CI
and fails them in CI (``CI=true``), so a CI run can never pass without having exercised the real protocols; a
peer that is installed but does not start fails them everywhere (:func:`tests.peers.started`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import pytest
from pydantic import SecretStr

from tests.channels.harness import (
    WEBHOOK_SECRET,
    AliyunHarness,
    Harness,
    JsonHarness,
    KannelHarness,
    SandboxHarness,
    SmppHarness,
    TencentHarness,
    TwilioHarness,
)
from tests.peers import started
from tests.peers.http_peers import AliyunPeer, JsonGatewayPeer, TencentPeer, TwilioPeer, WebhookSink
from tests.peers.kannel import KannelPeer, start_kannel
from tests.peers.smpp_peer import SmppPeer, start_peer


class Closable(Protocol):
    def close(self) -> None: ...


P = TypeVar("P", bound=Closable)


def _serving(peer: P) -> Iterator[P]:
    """A session fixture's body: the peer for the session, closed at its end."""
    yield peer
    peer.close()


HARNESSES = ["sandbox", "smpp", "kannel", "http_json", "aliyun", "tencent", "twilio"]


@pytest.fixture(scope="session")
def smpp_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmppPeer]:
    with started():
        peer = start_peer(tmp_path_factory.mktemp("smpp") / "submits.jsonl", dlr_delay_ms=10)
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def vendor_smpp_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmppPeer]:
    """The SMPP peer in vendor mode: it also answers query_sm by our client reference."""
    with started():
        peer = start_peer(tmp_path_factory.mktemp("smpp-vendor") / "submits.jsonl", dlr_delay_ms=10, mode="vendor")
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture(scope="session")
def kannel(tmp_path_factory: pytest.TempPathFactory, smpp_peer: SmppPeer,
           webhook_sink: WebhookSink) -> Iterator[KannelPeer]:
    from dunning.channels.http import HttpChannel
    from dunning.config import ChannelSettings

    probe = HttpChannel("probe", ChannelSettings(kind="http", secrets={"webhook_secret": SecretStr(WEBHOOK_SECRET)}))
    mo_url = webhook_sink.url(f"/kannel/mo?token={probe.mo_token()}")
    with started():
        peer = start_kannel(tmp_path_factory.mktemp("kannel"), smpp_peer.port, mo_url,
                            smpp_user=smpp_peer.system_id, smpp_password=smpp_peer.password)
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def json_peer() -> Iterator[JsonGatewayPeer]:
    yield from _serving(JsonGatewayPeer(JsonHarness.api_key, WEBHOOK_SECRET))


@pytest.fixture(scope="session")
def aliyun_peer(webhook_sink: WebhookSink) -> Iterator[AliyunPeer]:
    yield from _serving(AliyunPeer("LTAI-test-key", "aliyun-secret",
                                   report_url=webhook_sink.url(f"/aliyun/report?token={AliyunHarness.token}"),
                                   reply_url=webhook_sink.url(f"/aliyun/up?token={AliyunHarness.token}")))


@pytest.fixture(scope="session")
def tencent_peer(webhook_sink: WebhookSink) -> Iterator[TencentPeer]:
    yield from _serving(TencentPeer("AKID-test", "tencent-secret",
                                    report_url=webhook_sink.url(f"/tencent/report?token={TencentHarness.token}"),
                                    reply_url=webhook_sink.url(f"/tencent/reply?token={TencentHarness.token}")))


@pytest.fixture(scope="session")
def twilio_peer() -> Iterator[TwilioPeer]:
    yield from _serving(TwilioPeer("AC" + "0" * 31 + "1", "twilio-auth-token"))


# How each kind's harness is built from the session's peers (``get`` is ``request.getfixturevalue``).
_BUILD: dict[str, Callable[[Callable[[str], Any]], Harness]] = {
    "sandbox": lambda get: SandboxHarness(),
    "smpp": lambda get: SmppHarness(get("smpp_peer")),
    "kannel": lambda get: KannelHarness(get("webhook_sink"), get("kannel"), get("smpp_peer")),
    "http_json": lambda get: JsonHarness(get("webhook_sink"), get("json_peer")),
    "aliyun": lambda get: AliyunHarness(get("webhook_sink"), get("aliyun_peer")),
    "tencent": lambda get: TencentHarness(get("webhook_sink"), get("tencent_peer")),
    "twilio": lambda get: TwilioHarness(get("webhook_sink"), get("twilio_peer")),
}


def _harness(name: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    h = _BUILD[name](request.getfixturevalue)
    yield h
    h.disarm()


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Each kind in turn, for the contract suite."""
    yield from _harness(request.param, request)


def _one_kind(fixture_name: str, kind: str) -> Any:
    """A fixture ``fixture_name``: the harness of one kind, for its provider-specific tests."""

    @pytest.fixture(name=fixture_name)
    def one(request: pytest.FixtureRequest) -> Iterator[Harness]:
        yield from _harness(kind, request)

    return one


aliyun = _one_kind("aliyun", "aliyun")
tencent = _one_kind("tencent", "tencent")
kannel_h = _one_kind("kannel_h", "kannel")
json_h = _one_kind("json_h", "http_json")


@pytest.fixture
def smpp(smpp_peer: SmppPeer) -> Iterator[SmppHarness]:
    h = SmppHarness(smpp_peer)
    yield h
    smpp_peer.throttle(0)
    smpp_peer.mute(0)
    smpp_peer.variant("standard")

