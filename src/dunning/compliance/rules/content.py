"""Links, mobile numbers, requests for secrets, transfers to personal accounts, stray brackets."""

from __future__ import annotations

import re

import polars as pl

from dunning.compliance.findings import BLOCK, Finding
from dunning.compliance.policy import Policy

LINK = r"(?i)https?://[^\s，。]+|www\.[^\s，。]+|\b[a-z0-9-]+\.(?:com|cn|net|cc|top|xyz|io|me)\b[^\s，。]*"
MOBILE = r"(?:^|\D)(1[3-9]\d{9})(?:\D|$)"
SECRET = r"(?i)(提供|告知|发送|回复|输入|告诉|填写|报出|provide|send|reply with|enter)[^。；;]{0,8}(验证码|密码|身份证号?|银行卡号|卡号|CVV|code|password|PIN)"
PERSONAL = r"个人账户|私人账户|个人账号|私人账号|个人银行卡|对私账户|personal account"
# Phrases that mention a personal account in order to warn against it (the anti-fraud line).
SAFE_PERSONAL = r"不会要求(您)?向个人账户|切勿向个人账户|请勿向个人账户|不要向个人账户|never ask you to pay (in)?to a personal account"


def _link_allowed(url: str, policy: Policy) -> bool:
    host = re.sub(r"(?i)^https?://", "", url).split("/")[0].lower()
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in policy.domains)


def _mask_safe(text: str) -> str:
    return re.sub(SAFE_PERSONAL, lambda m: "＿" * len(m.group(0)), text, flags=re.IGNORECASE)


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    out = []
    for m in re.finditer(LINK, text):
        if not _link_allowed(m.group(0), policy):
            out.append(Finding("content.link", BLOCK, m.start(), m.end(),
                               "含链接：催收短信不得含链接（本机构备案域名除外）。", "links are not allowed"))
    for m in re.finditer(MOBILE, text):
        out.append(Finding("content.mobile_number", BLOCK, m.start(1), m.end(1),
                           "含手机号码：只能使用白名单中的官方客服电话。", "mobile numbers are not allowed"))
    for m in re.finditer(SECRET, text):
        out.append(Finding("content.secret_request", BLOCK, m.start(), m.end(),
                           "索要验证码、密码、身份证号或银行卡号：正规机构不会这样做。", "requests a secret"))
    for m in re.finditer(PERSONAL, _mask_safe(text), re.IGNORECASE):
        out.append(Finding("content.personal_account", BLOCK, m.start(), m.end(),
                           "要求向个人账户转账：只能引导至官方还款渠道。", "transfer to a personal account"))
    for m in re.finditer(r"[【】]", text):
        if m.start() == 0 or (m.group(0) == "】" and text.startswith("【") and text.find("】") == m.start()):
            continue
        out.append(Finding("content.brackets", BLOCK, m.start(), m.end(),
                           "正文中不得出现【】（仅签名可用）。", "brackets only around the signature"))
    return out


def trips(policy: Policy) -> pl.Expr:
    t = pl.col("text")
    body_brackets = t.str.replace(r"^【[^【】]*】", "").str.contains(r"[【】]")
    personal = t.str.replace_all("(?i)" + SAFE_PERSONAL, "").str.contains("(?i)" + PERSONAL)
    return (t.str.contains(LINK) | t.str.contains(MOBILE) | t.str.contains(SECRET) | personal | body_brackets)
