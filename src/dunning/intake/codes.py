"""Reject codes, in the order they are judged, and the messages a clerk reads in the reject report."""

from __future__ import annotations

REJECT_CODES: tuple[str, ...] = (
    "missing_field",
    "invalid_phone",
    "not_mobile",
    "invalid_amount",
    "nothing_due",
    "invalid_date",
    "conflicting_duplicate",
    "duplicate",
    "do_not_contact",
)
"""Every code a row can be rejected with. A row gets exactly one: the first that applies, in this order."""

REJECT_MESSAGES_ZH: dict[str, str] = {
    "missing_field": "借款编号、手机号、应还金额或到期日有空值：请在源系统补齐后重新导出本行。",
    "invalid_phone": "手机号无法识别：请核对位数与写法（中国大陆 11 位手机号，可带 +86；境外号码仅在政策允许时接受）。",
    "not_mobile": "该号码是固定电话或服务号码，无法接收短信：请补充借款人的手机号。",
    "invalid_amount": "应还金额无法识别或为负数：请填写数字金额（可带 ¥、元、千分位逗号）。",
    "nothing_due": "应还金额为 0，无需提醒：如有误，请核对账务数据。",
    "invalid_date": "到期日无法识别或不存在（例如 2月30日）：请使用 2026-09-30、2026/9/30 或 2026年9月30日 等写法。",
    "conflicting_duplicate": "同一借款编号出现多行且内容不一致，无法判断哪行正确：该借款的所有行均未导入，请核对后重新导入。",
    "duplicate": "与前面已导入的一行完全相同（重复行）：已保留第一行，本行无需处理。",
    "do_not_contact": "手机号在禁止联系名单中（投诉、争议、已故、诉讼等）：按规定不发送。",
}

REJECT_MESSAGES_EN: dict[str, str] = {
    "missing_field": "Loan id, phone, amount due or due date is empty: complete it in the source system and re-export.",
    "invalid_phone": "Phone number not recognised: check its digits (mainland 11-digit mobile, +86 allowed; "
    "international numbers only where the policy permits).",
    "not_mobile": "A landline or service number cannot receive SMS: supply the borrower's mobile number.",
    "invalid_amount": "Amount due is not a number or is negative: write a plain amount (¥, 元 and thousands "
    "separators are fine).",
    "nothing_due": "Amount due is zero, nothing to remind: check the ledger if this is wrong.",
    "invalid_date": "Due date not recognised or impossible (e.g. Feb 30): write it as 2026-09-30, 2026/9/30 or "
    "2026年9月30日.",
    "conflicting_duplicate": "The same loan id appears in several rows with different content and nobody can tell "
    "which is right: none of its rows were imported; reconcile and import again.",
    "duplicate": "An exact repeat of a row already imported: the first was kept, nothing to do.",
    "do_not_contact": "The phone is on a do-not-contact list (complaint, dispute, deceased, litigation): not sent.",
}
