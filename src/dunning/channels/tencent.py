"""Tencent Cloud SMS (API 2021-01-11) through the official SDK: SendSms, template id + positional parameters.

Like Aliyun, Tencent accepts only pre-registered templates and refuses collection content; use it for what a
template can carry and keep collection reminders on SMPP/HTTP channels.

Contract (beyond :mod:`dunning.channels.base`):

* One SendSms call carries ≤ 200 numbers sharing one template, one parameter list and one signature, so
  messages are grouped by (template, parameters, signature); a group of one message is the common case for
  personalised reminders. Parameters go positionally in the order of ``OutboundMessage.params``.
* ``SessionContext`` carries the idempotency key (keys joined by ``,`` for a group, cut to 512 characters);
  ``provider_id`` is the per-number ``SerialNo`` that status reports echo as ``sid``. ``part_ids`` is the
  serial number once per billed segment (``Fee``), as Tencent bills parts but does not id them.
* Per-number codes map per message: ``LimitExceeded.PhoneNumber*Limit`` → :class:`RateLimitedError` with code
  ``channel.per_number_cap``; other non-``Ok`` codes → :class:`PermanentChannelError`. Whole-call errors:
  ``RequestLimitExceeded*`` → :class:`RateLimitedError`, ``AuthFailure*`` → :class:`PermanentChannelError`,
  ``InternalError*``/network → :class:`TransientChannelError`.
* The SDK is synchronous (requests), so calls run in worker threads, ``concurrency`` at a time.
* Status reports (a JSON array) and replies (a JSON object) are pushed unsigned to the console-configured
  URLs; the URL must carry ``token`` = ``secrets.webhook_token``.
* ``check`` calls DescribeSmsSignList (authentication only).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tc
from tencentcloud.sms.v20210111.sms_client import SmsClient

from dunning.channels.base import ChannelEvent, DeliveryReport, InboundMessage, OutboundMessage, SubmitResult
from dunning.channels.templated import (
    TemplatedChannel,
    cn_time,
    receipt_status,
    secret,
    text_options,
)
from dunning.config import ChannelSettings
from dunning.errors import ChannelError, PermanentChannelError, RateLimitedError, TransientChannelError


class TencentChannel(TemplatedChannel, kind="tencent"):
    missing_template = ("腾讯云只能发送已报备的模板短信：该消息缺少模板 ID", "Tencent needs a template id")
    no_status_query = "Tencent SMS has no lookup by SessionContext"

    def __init__(self, name: str, settings: ChannelSettings, **_io: object) -> None:
        super().__init__(name, settings, max_per_call=200)
        self.endpoint, self.scheme, self.region, self.sdk_app_id = text_options(
            settings, endpoint="sms.tencentcloudapi.com", scheme="https", region="ap-guangzhou", sdk_app_id="")
        self._secret_id = secret(settings, "secret_id", option=True)
        self._secret_key = secret(settings, "secret_key")
        self._client: SmsClient | None = None

    async def open(self) -> None:
        if self._client is None:
            http = HttpProfile(endpoint=self.endpoint, reqTimeout=int(self.timeout), keepAlive=True)
            http.scheme = self.scheme
            self._client = SmsClient(credential.Credential(self._secret_id, self._secret_key), self.region,
                                     ClientProfile(httpProfile=http))

    async def close(self) -> None:
        self._client = None

    async def check(self) -> None:
        await self.open()
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        req = tc.DescribeSmsSignListRequest()
        req.SignIdSet = []
        req.International = 0
        try:
            await asyncio.to_thread(self._client.DescribeSmsSignList, req)
        except TencentCloudSDKException as exc:
            raise self._call_error(exc) from exc

    def _call_error(self, exc: TencentCloudSDKException) -> ChannelError:
        code = str(exc.code or "")
        msg = str(exc.message or "")
        if code.startswith("RequestLimitExceeded"):
            return RateLimitedError(f"腾讯云限流（{code}）：{msg}", f"Tencent throttled ({code})", retry_after=1.0)
        if code.startswith(("AuthFailure", "UnauthorizedOperation")):
            return PermanentChannelError(f"腾讯云认证失败（{code}）：请检查 SecretId/SecretKey",
                                         f"Tencent auth failed ({code})", code="channel.auth")
        if code.startswith(("InternalError", "ClientNetworkError", "ServerNetworkError")) or not code:
            return TransientChannelError(f"腾讯云服务异常（{code}）：{msg}", f"Tencent server/network error ({code})")
        return PermanentChannelError(f"腾讯云拒绝（{code}）：{msg}", f"Tencent rejected ({code}): {msg}",
                                     code=f"channel.tencent.{code}")

    def _number_error(self, code: str, msg: str) -> ChannelError:
        if code.startswith("LimitExceeded.PhoneNumber"):
            return self._per_number_cap(f"该号码触发腾讯云频次限制（{code}）：{msg}", f"per-number cap ({code})")
        if code.startswith("InternalError"):
            return TransientChannelError(f"腾讯云服务异常（{code}）：{msg}", f"Tencent error ({code})")
        return PermanentChannelError(f"腾讯云拒绝该号码（{code}）：{msg}", f"Tencent rejected number ({code}): {msg}",
                                     code=f"channel.tencent.{code}")

    def _group_key(self, m: OutboundMessage) -> tuple[str, tuple[str, ...], str]:
        return str(m.template_code), tuple(str(v) for v in m.params.values()), m.signature or self.sign_name

    async def _send_group(self, key: tuple[str, tuple[str, ...], str], chunk: list[OutboundMessage]
                          ) -> list[SubmitResult]:
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        template, params, sign = key
        req = tc.SendSmsRequest()
        req.PhoneNumberSet = [m.phone for m in chunk]
        req.SmsSdkAppId = self.sdk_app_id
        req.SignName = sign
        req.TemplateId = template
        req.TemplateParamSet = list(params)
        req.SessionContext = ",".join(m.idempotency_key for m in chunk)[:512]
        try:
            resp = await asyncio.to_thread(self._client.SendSms, req)
        except TencentCloudSDKException as exc:
            raise self._call_error(exc) from exc
        by_phone: dict[str, list[Any]] = {}
        for st in resp.SendStatusSet or []:
            by_phone.setdefault(str(st.PhoneNumber), []).append(st)
        out: list[SubmitResult] = []
        for m in chunk:
            statuses = by_phone.get(m.phone) or by_phone.get("+86" + m.phone.lstrip("+").removeprefix("86")) or []
            if not statuses:
                out.append(SubmitResult(m.message_id, None, ChannelError(
                    "腾讯云未返回该号码的结果，结果未知：需对账", "no per-number status returned: outcome unknown",
                    code="channel.outcome_unknown")))
                continue
            st = statuses.pop(0)
            if str(st.Code) == "Ok":
                serial = str(st.SerialNo)
                fee = max(1, int(st.Fee or 1))
                out.append(SubmitResult(m.message_id, serial, None, (serial,) * fee))
            else:
                out.append(SubmitResult(m.message_id, None, self._number_error(str(st.Code), str(st.Message))))
        return out

    def _push_event(self, item: dict[str, Any], raw: str) -> ChannelEvent | None:
        cc = str(item.get("nationcode", "86"))
        phone = f"+{cc}{item.get('mobile', '')}"
        if "sid" in item:  # status report
            ok = str(item.get("report_status", "")).upper() == "SUCCESS"
            err = str(item.get("errmsg") or "")
            return DeliveryReport(provider_id=str(item["sid"]), status=receipt_status(ok, err),
                                  error_code=None if ok else err or None,
                                  done_at=cn_time(item.get("user_receive_time")), raw=raw)
        if "text" in item:  # reply
            ts = item.get("time")
            return InboundMessage(
                phone=phone, text=str(item["text"]),
                received_at=datetime.fromtimestamp(int(ts), UTC) if isinstance(ts, int | str) and str(
                    ts).isdigit() else None, provider_id=None, raw=raw)
        return None
