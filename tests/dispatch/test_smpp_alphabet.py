"""A US-profile reminder campaign through the dispatcher, the SMPP adapter and the npm SMPP peer (an SMSC whose
default alphabet is GSM 03.38, decoding with its own codec): ``$``, ``@`` and ``_`` arrive intact, and the parts
planning counts for the channel are the parts the peer receives."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from dunning.compliance import lint_text, load_policy
from dunning.config import IdentitySettings
from dunning.db.models import Campaign, Message
from dunning.domain.sms import measure, parts_expr
from dunning.services import templates
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.planning import channel_counting, plan_campaign
from dunning.services.context import AppContext
from dunning.services.identity import users
from dunning.testing import FrozenClock
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import dispatcher, make_ctx, smpp_settings
from tests.peers.smpp_peer import SmppPeer
from tests.strategy.helpers import Acct, import_accounts

US_REMINDER = ("Sunshine Finance: your payment of $1,234.50 is due on 8/31. Pay in the Sunshine app or call "
               "800-555-0100. Reply STOP to stop texts to this number.")
US_LONG = US_REMINDER + (" Questions? Write to help_desk@sunshine.example {ref: A-17} or visit us at 12 Main St; "
                         "we are open Mon-Fri 9-5.")


def _send(ctx: AppContext, cid: int, channel: str) -> None:
    async def go() -> Any:
        try:
            return await dispatcher(ctx, channel).run(cid)
        finally:
            await ctx.close_channels()

    assert asyncio.run(go()).stopped == "done"


def _received(peer: SmppPeer) -> dict[str, list[dict[str, Any]]]:
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for e in peer.entries():
        if e["status"] == 0:
            by_ref.setdefault(e["ref"], []).append(e)
    return {k: sorted(v, key=lambda e: e["part"]) for k, v in by_ref.items()}


def test_a_us_campaign_arrives_with_dollar_signs_intact(tmp_path: Path, peer: SmppPeer) -> None:
    us = load_policy("US", {"institution": "Sunshine Finance", "signatures": ["Sunshine Finance"],
                            "hotlines": ["800-555-0100"], "domains": ["sunshine.example"]})
    assert not [f for f in lint_text(US_REMINDER, us, None) if f.severity == "block"]
    ctx = make_ctx(tmp_path, {"smpp": smpp_settings(peer.address),
                              "ascii_smsc": smpp_settings(peer.address, default_alphabet="ascii")})
    counting = channel_counting(ctx, "smpp")
    shown = pl.DataFrame({"t": [US_REMINDER, US_LONG]}).select(parts_expr("t", counting)).to_series().to_list()
    assert shown == [1, 2]
    short = bulk_campaign(ctx, 3, channel="smpp", phone_start=10, text=US_REMINDER)
    long = bulk_campaign(ctx, 2, channel="smpp", phone_start=20, text=US_LONG)
    _send(ctx, short, "smpp")
    _send(ctx, long, "smpp")
    got = _received(peer)
    with ctx.db.transaction() as s:
        keys = {cid: s.scalars(select(Message.idempotency_key).where(Message.campaign_id == cid)).all()
                for cid in (short, long)}
    for cid, text, parts in ((short, US_REMINDER, 1), (long, US_LONG, 2)):
        for key in keys[cid]:
            entries = got[key]
            assert [e["dc"] for e in entries] == [0] * parts and len(entries) == parts == entries[0]["parts"]
            assert "".join(e["text"] for e in entries) == text  # "$1,234.50", not "¤1,234.50"

    # The same text to an SMSC configured as ASCII goes out as ASCII bytes: a GSM SMSC shows them garbled,
    # which is why the alphabet is a per-channel choice.
    wrong = bulk_campaign(ctx, 1, channel="ascii_smsc", phone_start=30, text=US_REMINDER)
    _send(ctx, wrong, "ascii_smsc")
    with ctx.db.transaction() as s:
        (key,) = s.scalars(select(Message.idempotency_key).where(Message.campaign_id == wrong)).all()
    assert "¤1,234.50" in _received(peer)[key][0]["text"]


US_TEMPLATE = ("Sunshine Finance: your payment is past due; a $25 late fee may apply [ref: web_pay]. Pay at "
               "sunshine.example.com or call 800-555-0100. Reply STOP to stop texts to this number.")
US_STRATEGY = """
name: us-smpp
profile: US
timezone: America/New_York
send_window: {start: "09:00", end: "20:30"}
segments:
  - {name: all, steps: [{name: s, dpd: [3], template: US1}]}
"""


def test_a_planned_us_campaign_counts_and_sends_the_same_parts(tmp_path: Path, peer: SmppPeer) -> None:
    # 10:00 in New York on a Monday; the US-profile template is written, reviewed and approved as usual.
    ctx = make_ctx(tmp_path, {"smpp": smpp_settings(peer.address)}, default_channel="smpp",
                   clock=FrozenClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)).now,
                   identity=IdentitySettings(institution="Sunshine Finance", signatures=["Sunshine Finance"],
                                             hotlines=["800-555-0100"], domain="sunshine.example.com"))
    users.add_user(ctx, "writer", "strategist")
    users.add_user(ctx, "reviewer", "compliance")
    templates.save(ctx, code="US1", text=US_TEMPLATE, variables={}, actor="writer", profile="US", stage="M1")
    templates.submit_for_review(ctx, "US1", actor="writer")
    templates.approve(ctx, "US1", actor="reviewer")
    day = date(2026, 11, 23)
    iid = import_accounts(ctx, [Acct("U1", 3, phone="+12125550123"), Acct("U2", 3, phone="+12125550124")], day)
    strategy = tmp_path / "us.yaml"
    strategy.write_text(US_STRATEGY, encoding="utf-8")
    summary = plan_campaign(ctx, actor="writer", strategy_path=strategy, import_id=iid, as_of=day, channel="smpp")
    # Planned, not blocked: no 【signature】 prefix on a US text (it would force UCS-2 and three parts).
    assert summary.planned == 2, summary.by_reason
    with ctx.db.transaction() as s:
        planned = {m.idempotency_key: (m.text, m.parts) for m in s.scalars(
            select(Message).where(Message.campaign_id == summary.campaign_id))}
        # The pilot and its four-eyes approval are tested elsewhere; here the campaign goes straight to sending.
        s.get(Campaign, summary.campaign_id).state = "sending"  # type: ignore[union-attr]
    # CN counting would say 3 parts for these 175 characters; as this GSM-7 SMPP channel sends them: 2.
    assert {p for _, p in planned.values()} == {measure(US_TEMPLATE, "intl").parts} == {2}
    lifecycle.send_campaign(ctx, summary.campaign_id, actor="sender")
    got = _received(peer)
    for key, (text, parts) in planned.items():
        entries = got[key]
        assert len(entries) == parts and [e["dc"] for e in entries] == [0] * parts
        assert "".join(e["text"] for e in entries) == text == US_TEMPLATE  # "$25", "[ref: web_pay]" intact
