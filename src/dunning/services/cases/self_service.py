"""Self-service after verification: a borrower who has just confirmed on ``/verify`` that our message is genuine
asks for a call back, reports "not me" or "already paid", or asks for instalments or hardship help.

The request carries the same phone and code as the verification and goes through the same service (one attempt
in the same per-IP and per-phone limits), so it is refused exactly when ``/verify`` would not say "genuine". The
answer shows a case number and the hotline — nothing about the account that the SMS itself did not show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select

from dunning.db.models import Message
from dunning.domain.cases import CaseType
from dunning.domain.states import REACHED_STATES
from dunning.errors import InputError
from dunning.services.cases.commands import OpenRequest, open_in
from dunning.services.cases.policy import load_case_policy
from dunning.services.context import AppContext
from dunning.services.verification.codes import ALPHABET, CODE_LENGTH, stored_hash
from dunning.services.verification.lookup import PublicAnswer, verify_message

NOTE_MAX = 200
ACTOR = "borrower"
# What the borrower may ask for → the case it opens.
REQUESTS: dict[str, str] = {
    "callback": CaseType.CALLBACK.value,
    "not_me": CaseType.WRONG_PERSON.value,
    "already_paid": CaseType.ALREADY_PAID.value,
    "hardship": CaseType.HARDSHIP.value,
}
_LINK = re.compile(r"(https?:|www\.|://|\b[\w-]+\.(com|cn|net|org|top|xyz|cc|io|me|info|vip|app|link)\b)", re.I)


@dataclass(frozen=True)
class HelpAnswer(PublicAnswer):
    """``result``: opened | refused | rate_limited."""

    hotline: str
    case_number: str | None = None


def check_note(note: str) -> str:
    """The borrower's note: short, and never a link (it is shown to staff; a link there is a phishing vector)."""
    text = " ".join(note.split())
    if len(text) > NOTE_MAX:
        raise InputError(f"说明过长：最多 {NOTE_MAX} 字", f"the note is too long: at most {NOTE_MAX} characters",
                         code="input.too_long")
    if _LINK.search(text):
        raise InputError("说明中不能包含网址或链接", "the note must not contain a web address or link",
                         code="input.link")
    return text


def _e164(raw: str) -> str | None:
    try:
        num = phonenumbers.parse(raw.strip(), "CN")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def request_help(ctx: AppContext, phone: str, code: str, request: str, note: str, *, ip: str) -> HelpAnswer:
    if request not in REQUESTS:
        raise InputError("请选择需要的帮助", "choose what you need help with", code="input.request")
    text = check_note(note)
    answer = verify_message(ctx, phone, code, ip=ip, channel="public")
    if answer.result != "genuine":
        return HelpAnswer(
            "rate_limited" if answer.result == "rate_limited" else "refused",
            answer.message_zh if answer.result == "rate_limited" else
            f"未能核实该短信，无法登记申请：请核对手机号和验证码，或致电官方客服 {answer.hotline}。",
            answer.message_en if answer.result == "rate_limited" else
            f"This message could not be verified, so the request was not registered: check the phone number and "
            f"code, or call the official hotline {answer.hotline}.", answer.hotline)
    e164 = _e164(phone) or ""
    norm = "".join(ch for ch in code.upper() if not ch.isspace())
    digest = stored_hash(ctx.settings.secret(), e164, norm if len(norm) == CODE_LENGTH and set(norm) <= set(ALPHABET)
                         else "!" * CODE_LENGTH)
    policy = load_case_policy(ctx.settings.policy_profile)
    with ctx.db.transaction() as s:
        msg = s.execute(select(Message.id, Message.phone, Message.loan_id).where(
            Message.verify_code_hash == digest, Message.state.in_(REACHED_STATES)).limit(1)).first()
        if msg is None:  # verified a moment ago; gone only if the message was deleted meanwhile
            return HelpAnswer("refused", f"未能核实该短信，请致电官方客服 {answer.hotline}。",
                              f"The message could not be verified; call {answer.hotline}.", answer.hotline)
        ref = open_in(s, OpenRequest(REQUESTS[request], msg.phone, "self_service", text, message_id=msg.id,
                                     loan_ids=(msg.loan_id,)),
                      actor=ACTOR, now=ctx.now(), policy=policy, tz=ctx.tz)
    return HelpAnswer(
        "opened",
        f"已登记您的申请，案件编号 {ref.number}。我们会尽快与您联系；如需咨询，请致电官方客服 {answer.hotline} 并提供案件编号。",
        f"Your request is registered as case {ref.number}. We will contact you; for questions call the official "
        f"hotline {answer.hotline} and quote the case number.", answer.hotline, ref.number)
