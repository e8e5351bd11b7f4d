"""Content that makes a message unsafe or un-sendable: links, mobile numbers, numbers posing as hotlines, requests
for secrets, transfers to personal accounts, QR codes and chat contacts, stray brackets, unsupported symbols.

The requests and transfers are what fraudsters send; a genuine reminder only points to the official app and the
official hotline. A phrase that warns against them ("我司不会要求向个人账户转账") is not a finding.
"""

from __future__ import annotations

import re
from functools import lru_cache

import polars as pl

from dunning.compliance.findings import BLOCK, WARN, Finding, rules_of
from dunning.compliance.policy import Policy
from dunning.compliance.rules._common import alternation, find_words, negated, words_pattern

NAME = "content"
RULES = rules_of(NAME)
TLDS = "com|cn|net|org|cc|top|xyz|io|me|info|vip|shop|app|link|ly|gl|co|us|biz|site|online|club"
LINK_PY = (rf"(?i)https?://[^\s，。；;、）)]+|www\.[^\s，。；;、）)]+"
           rf"|(?<![a-z0-9.-])(?:[a-z0-9-]+\.)+(?:{TLDS})(?![a-z0-9-])(?:/[^\s，。；;、）)]*)?")
LINK_RS = rf"(?i:https?://|www\.|\.(?:{TLDS})(?:[^a-z0-9-]|$))"
SEP = "[ \t　-]"  # separators people put in phone numbers (incl. the ideographic space)
# a number standing alone: not inside a longer number, a decimal ("95000.00") or a code ("P95459")
ALONE_BEFORE, ALONE_AFTER = r"(?<![0-9A-Za-z])(?<![0-9][.,])", r"(?![0-9A-Za-z])(?![.,][0-9])"
MOBILE_PY = rf"{ALONE_BEFORE}(?:\+?86{SEP}?)?1[3-9][0-9](?:{SEP}?[0-9]{{4}}){{2}}{ALONE_AFTER}"
MOBILE_RS = rf"1[3-9][0-9]{SEP}?[0-9]{{4}}{SEP}?[0-9]{{4}}"
SIG_RS = r"^【[^【】]*】"
CODE_LABEL = r"(?:验证码|校验码|核验码|(?i:code))[:：\s]*$"


def _link_ok(url: str, policy: Policy) -> bool:
    if not policy.links_enabled or not policy.domains:
        return False
    if policy.profile == "CN" and not url.lower().startswith("https://"):
        return False  # CN if_enabled: require_https
    host = re.sub(r"(?i)^https?://", "", url).split("/")[0].split(":")[0].lower()
    return any(host == d or host.endswith("." + d) for d in policy.domains)


@lru_cache(maxsize=16)
def _patterns(secret_words: tuple[str, ...], secret_verbs: tuple[str, ...], hotline_patterns: tuple[str, ...],
              personal: tuple[str, ...]) -> tuple[str | None, str | None, str | None, str | None]:
    secret = (f"{words_pattern(secret_verbs)}[^。；;！!？?\\n]{{0,8}}?{words_pattern(secret_words)}"
              if secret_words and secret_verbs else None)
    shapes = [h.replace(r"\d", "[0-9]") for h in hotline_patterns]
    hot_py = f"{ALONE_BEFORE}(?:{'|'.join(shapes)}){ALONE_AFTER}" if shapes else None
    hot_rs = "|".join(shapes) or None
    pers = alternation(personal) or None
    return secret, hot_py, hot_rs, pers


def _pats(policy: Policy) -> tuple[str | None, str | None, str | None, str | None]:
    return _patterns(policy.secret_words, policy.secret_verbs, policy.hotline_patterns,
                     policy.personal_account_words)


def _hotline_forms(policy: Policy) -> set[str]:
    return {re.sub(r"[\s()-]", "", h) for h in policy.hotlines}


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    out: list[Finding] = []
    secret, hot_py, _hot_rs, _pers = _pats(policy)
    links = list(re.finditer(LINK_PY, text))
    for i, m in enumerate(links):
        if _link_ok(m.group(0), policy) and i < policy.max_links:
            continue
        why_zh = ("未启用链接" if not policy.links_enabled else "非本机构登记域名或超过链接数上限")
        out.append(Finding("content.link", BLOCK, m.start(), m.end(),
                           f"含链接「{m.group(0)}」（{why_zh}）：请引导至官方App或官网名称，不放链接。",
                           f"link {m.group(0)!r} is not allowed: name the official app or site instead"))
    mobiles: list[tuple[int, int]] = []
    if policy.profile == "CN":
        for m in re.finditer(MOBILE_PY, text):
            mobiles.append((m.start(), m.end()))
            out.append(Finding("content.mobile_number", BLOCK, m.start(), m.end(),
                               "含手机号码：只能使用白名单中的官方客服电话。",
                               "mobile numbers are not allowed: use the official hotline"))
    if hot_py is not None and policy.hotlines:
        listed = _hotline_forms(policy)
        for m in re.finditer(hot_py, text):
            if re.sub(r"[\s()-]", "", m.group(0)) in listed or any(s <= m.start() < e for s, e in mobiles):
                continue
            if re.search(CODE_LABEL, text[max(0, m.start() - 8):m.start()]):
                continue  # "验证码959775" is the message's verification code, not a number to call
            out.append(Finding("content.unlisted_number", BLOCK, m.start(), m.end(),
                               f"号码「{m.group(0)}」不在官方客服电话白名单（{'、'.join(policy.hotlines)}）中。",
                               f"{m.group(0)!r} is not an official hotline ({', '.join(policy.hotlines)})"))
    if secret is not None:
        for m in re.finditer(secret, text):
            if negated(text, m.start(), policy.negations):
                continue
            out.append(Finding("content.secret_request", BLOCK, m.start(), m.end(),
                               "索要验证码、密码、身份证号或银行卡号：正规机构不会这样做。",
                               "asks for a code, password, ID or card number: genuine lenders never do"))
    for start, end, _w, rule in find_words(text, _word_entries(policy)):
        if rule == "content.personal_account" and negated(text, start, policy.negations):
            continue
        zh, en = {
            "content.personal_account": ("要求向个人账户转账：只能引导至官方还款渠道。",
                                         "asks for a transfer to a personal account: use the official channel"),
            "content.qr_code": ("含扫码/二维码：催收短信不得引导扫码。", "QR codes are not allowed"),
            "content.im_contact": ("含微信/QQ 等联系方式：只能使用官方客服电话。", "chat-app contacts are not allowed"),
            "content.symbol": (f"符号「{text[start:end]}」可能被短信平台拒绝或显示为乱码。",
                               f"symbol {text[start:end]!r} may be rejected or garbled"),
        }[rule]
        out.append(Finding(rule, WARN if rule == "content.symbol" else BLOCK, start, end, zh, en))
    if policy.signature_prefix:
        sig = re.match(r"【[^【】]*】", text)
        skip = sig.end() if sig else 0
        for m in re.finditer(r"[【】]", text):
            if m.start() < skip:
                continue
            out.append(Finding("content.brackets", BLOCK, m.start(), m.end(),
                               "正文中不得出现【】（仅签名可用；签名由系统自动添加，模板中不要再写）。",
                               "【】 only around the signature (added automatically; do not write it in a template)"))
    return out


def _word_entries(policy: Policy) -> tuple[tuple[str, str], ...]:
    return tuple(
        [(w, "content.personal_account") for w in policy.personal_account_words]
        + [(w, "content.qr_code") for w in policy.qr_words]
        + [(w, "content.im_contact") for w in policy.im_words]
        + [(w, "content.symbol") for w in policy.unsupported_symbols]
    )


def screen_patterns(policy: Policy) -> list[str]:
    """The rare events, for the shared one-pass screen: links, mobile numbers, requests for secrets, QR and chat
    words, unsupported symbols. ASCII ``[0-9]`` and case folding only where needed keep the pass fast."""
    secret, _hot_py, _hot_rs, _pers = _pats(policy)
    out = [LINK_RS]
    if policy.profile == "CN":
        out.append(MOBILE_RS)
    if secret is not None:
        out.append(secret)
    words = words_pattern([*policy.qr_words, *policy.im_words, *policy.unsupported_symbols])
    if words:
        out.append(words)
    return out


def trips(policy: Policy) -> pl.Expr:
    """What every genuine message also contains, compared by counts: service-shaped numbers against the
    whitelisted hotlines, personal-account mentions against warnings, 【】 against the signature's pair."""
    t = pl.col("text")
    _secret, _hot_py, _hot_rs, pers = _pats(policy)
    bad = pl.lit(False)
    if policy.hotline_patterns and policy.hotlines:
        # more service-shaped numbers than whitelisted ones: one of them is not official
        shaped = sum((t.str.count_matches(p.replace(r"\d", "[0-9]")) for p in policy.hotline_patterns),
                     start=pl.lit(0, pl.UInt32))
        # a whitelisted number counts only standing alone ("950008" is not 95000 followed by 8); counting too few
        # only ever sends more rows to check()
        listed = t.str.count_matches(
            f"(?:^|[^0-9A-Za-z.,])(?:{'|'.join(re.escape(h) for h in sorted(policy.hotlines, key=len, reverse=True))})"
            "(?:[^0-9A-Za-z.,]|[.,](?:[^0-9]|$)|$)")
        bad = bad | (shaped > listed)
    if pers is not None:
        # every mention of a personal account must be a warning against it (a negation before it in the clause);
        # the screen knows only the Chinese negations (fewer cleared rows, never a missed finding)
        neg = alternation([n for n in policy.negations if not n.isascii()])
        n = t.str.count_matches(pers)
        warned = t.str.count_matches(f"(?:{neg})[^。；;！!？?\\n]{{0,10}}?(?:{pers})") if neg else pl.lit(0)
        bad = bad | ((n > 0) & (n > warned))
    if policy.signature_prefix:
        n = t.str.count_matches("[【】]")
        if policy.signatures:
            head_ok = pl.any_horizontal([t.str.starts_with(f"【{s}】") for s in policy.signatures])
        else:
            head_ok = t.str.slice(0, 20).str.contains(SIG_RS)
        bad = bad | (n > 2) | ((n > 0) & ~head_ok)
    return bad
