"""Codes (states, reasons, roles, reply classes) as a person reads them: Chinese first, for the CLI and exports.

The console shows the same Chinese strings and translates them with its own dictionary (``web/i18n.py``)."""

from __future__ import annotations

from dunning.domain.states import CAMPAIGN_STATE_ZH, MESSAGE_STATE_ZH
from dunning.services.campaigns.planning import SUPPRESSION_ZH
from dunning.services.identity.users import ROLE_ZH

REJECT_ZH = {
    "missing_field": "必填项为空", "invalid_phone": "手机号无效", "not_mobile": "非手机号", "invalid_amount": "金额无效",
    "nothing_due": "无应还金额", "invalid_date": "日期无效", "conflicting_duplicate": "重复且内容冲突",
    "duplicate": "重复行",
}
REPLY_ZH = {"opt_out": "退订", "dispute": "争议", "promise": "承诺还款", "other": "其他"}
IMPORT_KIND_ZH = {"portfolio": "账户导入", "payments": "还款导入"}
CHECK_ZH = {"delivery_rate": "送达率", "block_findings": "合规拦截条数", "opt_out_rate": "退订率"}

_ALL: dict[str, str] = {
    **{str(k.value): v for k, v in CAMPAIGN_STATE_ZH.items()},
    **MESSAGE_STATE_ZH,
    **REJECT_ZH,
    **SUPPRESSION_ZH,  # after REJECT_ZH: do_not_contact reads the same either way
    **REPLY_ZH,
    **{str(k.value): v for k, v in ROLE_ZH.items()},
    **CHECK_ZH,
}


def zh(code: str | None) -> str:
    """The Chinese label of a code, or the code itself when none is known (never blank)."""
    if code is None:
        return ""
    return _ALL.get(str(code), str(code))
