"""Aliyun SMS (Dysmsapi 2017-05-25) through the official SDK: template code + parameters, SendBatchSms.

Aliyun accepts only pre-registered templates and signatures, and refuses collection (催收) content in them:
this channel suits notices a template can carry; collection reminders go through SMPP/HTTP channels.

Contract (beyond :mod:`dunning.channels.base`):

* Messages are grouped by template code and sent with SendBatchSms, ≤ 100 numbers per call, each number with
  its own signature and ``TemplateParamJson`` entry. A message without ``template_code`` is rejected per message.
* SendBatchSms answers one ``BizId`` per call, so ``provider_id`` is ``"{BizId}:{phone}"`` (the pair SmsReport
  carries); the batch's ``OutId`` is a digest of its idempotency keys. A call of one message uses SendSms with
  ``OutId`` = the idempotency key.
* The API fails a whole call for one bad number. When it names a per-number cause
  (``isv.MOBILE_NUMBER_ILLEGAL``, ``isv.BUSINESS_LIMIT_CONTROL``, ``isv.DAY_LIMIT_CONTROL``...), the batch
  (which sent nothing) is retried one number at a time with SendSms to pin the error on the right messages:
  the per-number frequency cap becomes that message's :class:`RateLimitedError` with code
  ``channel.per_number_cap`` (retry after ``per_number_retry_after`` seconds, default an hour).
* ``Throttling.*`` → the whole call raises :class:`RateLimitedError`; bad keys/signature/template →
  :class:`PermanentChannelError`; other server errors → :class:`TransientChannelError`.
* SmsReport and SmsUp arrive as HTTP pushes (JSON arrays) to the URLs configured in the console; Aliyun does not
  sign them, so the URL must carry ``token`` = ``secrets.webhook_token`` (checked in constant time).
* ``check`` calls QuerySmsSign for ``options.sign_name``: credentials are exercised, nothing is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from alibabacloud_dysmsapi20170525 import models as ali
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as open_api
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException, UnretryableException

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

_PER_NUMBER_CAP = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL"})
_PER_NUMBER_BAD = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.BLACK_KEY_CONTROL_LIMIT",
                             "isv.OUT_OF_SERVICE"})
_AUTH = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "IncompleteSignature", "isp.RAM_PERMISSION_DENY",
         "Forbidden", "MissingAuthorization")


def national(phone: str) -> str:
    """The number as Aliyun wants it: 11 digits for mainland China, digits with country code otherwise."""
    p = phone.strip()
    if p.startswith("+86"):
        return p[3:]
    return p.lstrip("+")


class AliyunChannel(TemplatedChannel, kind="aliyun"):
    missing_template = ("阿里云只能发送已报备的模板短信：该消息缺少模板编码", "Aliyun needs a template code")
    no_status_query = "Aliyun QuerySendDetails looks up by phone and BizId, not by client reference"

    def __init__(self, name: str, settings: ChannelSettings, **_io: object) -> None:
        super().__init__(name, settings, max_per_call=100)
        self.endpoint, self.protocol, self.region_id = text_options(
            settings, endpoint="dysmsapi.aliyuncs.com", protocol="https", region_id="cn-hangzhou")
        self.timeout_ms = int(self.timeout * 1000)
        self._key_id = secret(settings, "access_key_id", option=True)
        self._key_secret = secret(settings, "access_key_secret")
        self._client: Client | None = None

    def _runtime(self) -> RuntimeOptions:
        return RuntimeOptions(autoretry=False, read_timeout=self.timeout_ms, connect_timeout=self.timeout_ms)

    async def open(self) -> None:
        if self._client is None:
            self._client = Client(open_api.Config(
                access_key_id=self._key_id, access_key_secret=self._key_secret, endpoint=self.endpoint,
                protocol=self.protocol, region_id=self.region_id))

    async def close(self) -> None:
        self._client = None

    async def check(self) -> None:
        await self.open()
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        try:
            resp = await self._client.query_sms_sign_with_options_async(
                ali.QuerySmsSignRequest(sign_name=self.sign_name), self._runtime())
        except (TeaException, UnretryableException) as exc:
            raise self._call_error(exc) from exc
        body = resp.body.to_map() if resp.body is not None else {}
        if body.get("Code") not in ("OK", None):
            raise self._code_error(str(body.get("Code")), str(body.get("Message", "")))

    # ----------------------------------------------------------------- errors

    def _code_error(self, code: str, message: str) -> ChannelError:
        if code.startswith("Throttling"):
            return RateLimitedError(f"阿里云限流（{code}）：{message}", f"Aliyun throttled ({code}): {message}",
                                    retry_after=1.0)
        if code.startswith(_AUTH):
            return PermanentChannelError(f"阿里云认证失败（{code}）：请检查 AccessKey", f"Aliyun auth failed ({code})",
                                         code="channel.auth")
        if code.startswith(("isp.", "ServiceUnavailable", "InternalError")):
            return TransientChannelError(f"阿里云服务异常（{code}）：{message}", f"Aliyun server error ({code})")
        return PermanentChannelError(f"阿里云拒绝（{code}）：{message}", f"Aliyun rejected ({code}): {message}",
                                     code=f"channel.aliyun.{code}")

    def _call_error(self, exc: Exception) -> ChannelError:
        code = getattr(exc, "code", None)
        if isinstance(exc, TeaException) and code and not str(code).isdigit():
            return self._code_error(str(code), str(getattr(exc, "message", "")))
        return TransientChannelError(f"无法访问阿里云短信接口：{exc}", f"cannot reach Aliyun SMS API: {exc}")

    def _per_number_error(self, code: str, message: str) -> ChannelError:
        if code in _PER_NUMBER_CAP:
            return self._per_number_cap(f"该号码触发阿里云频次限制（{code}）：{message}",
                                        f"per-number frequency cap ({code}): {message}")
        return PermanentChannelError(f"阿里云拒绝该号码（{code}）：{message}", f"Aliyun rejected number ({code})",
                                     code=f"channel.aliyun.{code}")

    # ----------------------------------------------------------------- send

    def _group_key(self, m: OutboundMessage) -> str | None:
        return m.template_code

    async def _body(self, call: Callable[[Any, RuntimeOptions], Awaitable[Any]], request: Any) -> dict[str, Any]:
        """The response body of one API call. The SDK raises some per-number refusals: they read as the body
        that names them; any other failure raises a :class:`ChannelError`."""
        try:
            resp = await call(request, self._runtime())
        except (TeaException, UnretryableException) as exc:
            code = getattr(exc, "code", None)
            if isinstance(exc, TeaException) and code in (_PER_NUMBER_CAP | _PER_NUMBER_BAD):
                return {"Code": code, "Message": getattr(exc, "message", "")}
            raise self._call_error(exc) from exc
        return resp.body.to_map() if resp.body is not None else {}

    async def _send_group(self, _code: str, chunk: list[OutboundMessage]) -> list[SubmitResult]:
        if len(chunk) == 1:
            return [await self._send_one(chunk[0], raise_whole=True)]
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        keys = ",".join(m.idempotency_key for m in chunk)
        req = ali.SendBatchSmsRequest(
            phone_number_json=json.dumps([national(m.phone) for m in chunk]),
            sign_name_json=json.dumps([m.signature or self.sign_name for m in chunk], ensure_ascii=False),
            template_code=chunk[0].template_code,
            template_param_json=json.dumps([dict(m.params) for m in chunk], ensure_ascii=False),
            out_id="b-" + hashlib.blake2b(keys.encode(), digest_size=12).hexdigest(),
        )
        body = await self._body(self._client.send_batch_sms_with_options_async, req)
        code = str(body.get("Code"))
        if code == "OK":
            biz = str(body.get("BizId"))
            return [SubmitResult(m.message_id, f"{biz}:{national(m.phone)}", None, (f"{biz}:{national(m.phone)}",))
                    for m in chunk]
        if code in _PER_NUMBER_CAP or code in _PER_NUMBER_BAD:
            # the call sent nothing; one number at a time tells which messages the error belongs to
            return [await self._send_one(m, raise_whole=False) for m in chunk]
        raise self._code_error(code, str(body.get("Message", "")))

    async def _send_one(self, m: OutboundMessage, *, raise_whole: bool) -> SubmitResult:
        assert self._client is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        req = ali.SendSmsRequest(
            phone_numbers=national(m.phone), sign_name=m.signature or self.sign_name,
            template_code=m.template_code, template_param=json.dumps(dict(m.params), ensure_ascii=False),
            out_id=m.idempotency_key)
        try:
            body = await self._body(self._client.send_sms_with_options_async, req)
        except ChannelError as failed:
            if raise_whole:
                raise
            return SubmitResult(m.message_id, None, failed)
        code = str(body.get("Code"))
        if code == "OK":
            pid = f"{body.get('BizId')}:{national(m.phone)}"
            return SubmitResult(m.message_id, pid, None, (pid,))
        if code in _PER_NUMBER_CAP or code in _PER_NUMBER_BAD:
            return SubmitResult(m.message_id, None, self._per_number_error(code, str(body.get("Message", ""))))
        err = self._code_error(code, str(body.get("Message", "")))
        if raise_whole:
            raise err
        return SubmitResult(m.message_id, None, err)

    # ----------------------------------------------------------------- callbacks

    def _push_event(self, item: dict[str, Any], raw: str) -> ChannelEvent | None:
        if "biz_id" in item:  # SmsReport
            success = item.get("success")
            ok = success is True or str(success).lower() == "true"
            err = str(item.get("err_code") or "")
            return DeliveryReport(
                provider_id=f"{item['biz_id']}:{item.get('phone_number', '')}", status=receipt_status(ok, err),
                error_code=None if ok else err or None, done_at=cn_time(item.get("report_time")), raw=raw)
        if "content" in item:  # SmsUp
            phone = str(item.get("phone_number", ""))
            return InboundMessage(
                phone=("+86" + phone) if len(phone) == 11 and phone.startswith("1") else phone,
                text=str(item.get("content", "")), received_at=cn_time(item.get("send_time")),
                provider_id=str(item["sequence_id"]) if item.get("sequence_id") is not None else None, raw=raw)
        return None
