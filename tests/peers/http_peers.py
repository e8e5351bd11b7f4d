"""Local HTTP peers speaking the request/response shapes of the providers our HTTP-based adapters call.

Each peer is a real HTTP server on 127.0.0.1 (a free port) driven by the provider's OFFICIAL SDK inside the
adapter, so the adapter's request building, signing and response handling run for real. Peers check the
signature schemes they can (Tencent TC3, Aliyun ACS3, Twilio basic auth) and answer in the provider's shapes.

Shared behaviour, chosen by the destination number so a test can provoke it deterministically:

* ``...0000`` → rejected as an invalid number (per message where the API can say so);
* ``...0009`` → the per-number frequency cap (Aliyun ``isv.BUSINESS_LIMIT_CONTROL``, Tencent
  ``LimitExceeded.PhoneNumberDailyLimit``);
* ``...0001`` → delivered report says failed; anything else → delivered.

``peer.throttle(n)`` makes the next n calls fail as a whole with the provider's rate-limit answer.
Delivery reports and MO replies are POSTed (after a short delay, from a worker thread) to the callback URL
the peer was given or the request named. ``peer.sent`` records every accepted message with the client
reference the request carried, so tests can prove what left and what did not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from twilio.request_validator import RequestValidator


@dataclass
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True))

    @property
    def route(self) -> str:
        return urllib.parse.urlsplit(self.path).path


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, **headers: str) -> Reply:
        return cls(status, json.dumps(obj, ensure_ascii=False).encode(), "application/json", headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    handle: Callable[[Received], Reply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = self.server.handle(req)
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        self.send_header("content-length", str(len(reply.body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return


class HttpPeer:
    """Base: a threaded HTTP server plus a callback poster."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.handle = self._handle
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.requests: list[Received] = []
        self.sent: list[dict[str, Any]] = []
        self._throttle = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._outbox: queue.Queue[tuple[float, str, bytes, dict[str, str]] | None] = queue.Queue()
        self.callback_failures: list[str] = []
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._poster, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        self._outbox.put(None)
        self._server.shutdown()
        self._server.server_close()

    def throttle(self, calls: int) -> None:
        with self._lock:
            self._throttle = calls

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                return True
            return False

    def next_id(self) -> int:
        return next(self._ids)

    def post_later(self, url: str, body: bytes, headers: dict[str, str], delay: float = 0.05) -> None:
        self._outbox.put((time.monotonic() + delay, url, body, headers))

    def _poster(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            due, url, body, headers = item
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    resp.read()
            except (urllib.error.URLError, OSError) as exc:
                self.callback_failures.append(f"{url}: {exc}")

    def _handle(self, req: Received) -> Reply:
        self.requests.append(req)
        return self.handle(req)

    def handle(self, req: Received) -> Reply:
        raise NotImplementedError


def outcome_of(phone: str) -> tuple[bool, str]:
    """(delivered, error code) for a destination, by its last digits."""
    return (False, "UNDELIV") if phone.endswith("0001") else (True, "DELIVRD")


# --------------------------------------------------------------------------------------------- JSON gateway


class JsonGatewayPeer(HttpPeer):
    """The JSON aggregator API of :mod:`dunning.channels.http` (``format = "json"``)."""

    def __init__(self, api_key: str, webhook_secret: str) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret.encode()
        super().__init__()

    def _sign(self, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        sig = hmac.new(self.webhook_secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"content-type": "application/json", "x-timestamp": ts, "x-signature": sig}

    def handle(self, req: Received) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply.json(401, {"error": "unauthorized"})
        if req.route == "/account":
            return Reply.json(200, {"account": "dunning", "balance": 1000})
        if req.route != "/sms/batch" or req.method != "POST":
            return Reply.json(404, {"error": "not found"})
        if self._take_throttle():
            return Reply.json(429, {"error": "rate_limited", "retry_after": 2}, **{"retry-after": "2"})
        payload = json.loads(req.body)
        results = []
        dlrs = []
        for m in payload["messages"]:
            to = str(m["to"])
            if to.endswith("0000"):
                results.append({"ref": m["ref"], "status": "rejected", "code": "invalid_number",
                                "message": "invalid destination"})
                continue
            units = len(str(m["text"]).encode("utf-16-be")) // 2
            n_parts = 1 if units <= 70 else -(-units // 67)
            ids = [f"jg-{self.next_id()}" for _ in range(n_parts)]
            results.append({"ref": m["ref"], "status": "accepted", "id": ids[0], "parts": ids})
            self.sent.append({"ref": m["ref"], "to": to, "id": ids[0], "text": m["text"]})
            ok, stat = outcome_of(to)
            for pid in ids:
                dlrs.append({"id": pid, "ref": m["ref"], "status": stat, "err": "000" if ok else "001",
                             "done_at": datetime.now(UTC).isoformat()})
        if dlrs and payload.get("callback_url"):
            body = json.dumps({"type": "dlr", "events": dlrs}).encode()
            self.post_later(payload["callback_url"], body, self._sign(body))
        return Reply.json(200, {"results": results})

    def send_mo(self, callback_url: str, phone: str, text: str) -> None:
        body = json.dumps({"type": "mo", "events": [{"from": phone, "text": text, "id": f"mo-{self.next_id()}",
                                                      "received_at": datetime.now(UTC).isoformat()}]},
                          ensure_ascii=False).encode()
        self.post_later(callback_url, body, self._sign(body), delay=0.0)



class CloudPeer(HttpPeer):
    """A template-based cloud API (Aliyun, Tencent): an access key pair, a report URL and a reply URL."""

    def __init__(self, key_id: str, secret: str, report_url: str = "", reply_url: str = "") -> None:
        self.key_id = key_id
        self.secret = secret
        self.report_url = report_url
        self.reply_url = reply_url
        super().__init__()


# --------------------------------------------------------------------------------------------- Aliyun


def _pct(s: str) -> str:
    return urllib.parse.quote(s, safe="-_.~")


class AliyunPeer(CloudPeer):
    """Dysmsapi 2017-05-25 RPC over HTTP: SendBatchSms (≤100), SendSms, QuerySmsSign; ACS3 signatures checked.

    Reports go to ``report_url`` (SmsReport, a JSON array) and replies to ``reply_url`` (SmsUp), as the console's
    HTTP batch push would.
    """

    def _verify(self, req: Received) -> str | None:
        auth = req.headers.get("authorization", "")
        try:
            algo, rest = auth.split(" ", 1)
            parts = dict(p.split("=", 1) for p in rest.split(","))
        except ValueError:
            return "MissingAuthorization"
        if algo != "ACS3-HMAC-SHA256":
            return "UnsupportedSignatureAlgorithm"
        if parts.get("Credential") != self.key_id:
            return "InvalidAccessKeyId.NotFound"
        signed = parts["SignedHeaders"].split(";")
        split = urllib.parse.urlsplit(req.path)
        query = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        canonical_query = "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(query))
        canonical_headers = "".join(f"{h}:{req.headers.get(h, '').strip()}\n" for h in signed)
        payload_hash = hashlib.sha256(req.body).hexdigest()
        canonical = "\n".join((req.method, split.path or "/", canonical_query, canonical_headers,
                               ";".join(signed), payload_hash))
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(self.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, parts.get("Signature", "")) else "SignatureDoesNotMatch"

    @staticmethod
    def _err(code: str, message: str, status: int = 200) -> Reply:
        return Reply.json(status, {"Code": code, "Message": message, "RequestId": f"req-{time.monotonic_ns()}"})

    def handle(self, req: Received) -> Reply:
        problem = self._verify(req)
        if problem is not None:
            return self._err(problem, "Specified signature or access key is not valid.", 400)
        action = req.headers.get("x-acs-action", "")
        params = req.query
        params.update(dict(urllib.parse.parse_qsl(req.body.decode(), keep_blank_values=True)))
        if action == "QuerySmsSign":
            return Reply.json(200, {"Code": "OK", "Message": "OK", "SignName": params.get("SignName", ""),
                                    "SignStatus": 1, "RequestId": "req-sign"})
        if self._take_throttle():
            return self._err("Throttling.User", "Request was denied due to user flow control.", 400)
        if action == "SendBatchSms":
            phones = json.loads(params["PhoneNumberJson"])
            signs = json.loads(params["SignNameJson"])
            tparams = json.loads(params.get("TemplateParamJson") or "[]")
            if len(phones) > 100:
                return self._err("isv.BATCH_LIMIT", "批量发送号码数量超过100")
            if len(signs) != len(phones) or (tparams and len(tparams) != len(phones)):
                return self._err("isv.INVALID_PARAMETERS", "参数数量不一致")
            out_id = params.get("OutId", "")
        elif action == "SendSms":
            phones = params["PhoneNumbers"].split(",")
            signs = [params["SignName"]] * len(phones)
            tparams = [json.loads(params.get("TemplateParam") or "{}")] * len(phones)
            out_id = params.get("OutId", "")
        else:
            return self._err("InvalidAction.NotFound", f"unknown action {action}", 404)
        # the whole call fails on the first number it cannot send, as the real API does
        for p in phones:
            if p.endswith("0000"):
                return self._err("isv.MOBILE_NUMBER_ILLEGAL", f"非法手机号 {p}")
            if p.endswith("0009"):
                return self._err("isv.BUSINESS_LIMIT_CONTROL", f"触发号码天级流控 {p}")
        biz_id = f"{self.next_id():06d}^0"
        reports = []
        for i, p in enumerate(phones):
            self.sent.append({"biz_id": biz_id, "phone": p, "out_id": out_id, "sign": signs[i],
                              "template": params.get("TemplateCode"), "params": tparams[i] if tparams else {}})
            ok, stat = outcome_of(p)
            now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
            reports.append({"phone_number": p, "send_time": now, "report_time": now, "success": ok,
                            "err_code": "DELIVERED" if ok else stat, "err_msg": "用户接收成功" if ok else "失败",
                            "sms_size": "1", "biz_id": biz_id, "out_id": out_id})
        if self.report_url:
            self.post_later(self.report_url, json.dumps(reports, ensure_ascii=False).encode(),
                            {"content-type": "application/json"})
        return Reply.json(200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": "req-ok"})

    def send_mo(self, phone: str, text: str) -> None:
        body = [{"phone_number": phone, "send_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                 "content": text, "sign_name": "阳光消费金融", "dest_code": "1234", "sequence_id": self.next_id()}]
        self.post_later(self.reply_url, json.dumps(body, ensure_ascii=False).encode(),
                        {"content-type": "application/json"}, delay=0.0)


# --------------------------------------------------------------------------------------------- Tencent


class TencentPeer(CloudPeer):
    """SMS API 2021-01-11: SendSms (≤200 numbers, per-number codes), DescribeSmsSignList; TC3 signatures checked."""

    def _verify(self, req: Received) -> str | None:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256 "):
            return "AuthFailure.SignatureFailure"
        fields = dict(p.strip().split("=", 1) for p in auth[len("TC3-HMAC-SHA256 "):].split(","))
        cred = fields.get("Credential", "").split("/")
        if len(cred) != 4 or cred[0] != self.key_id:
            return "AuthFailure.SecretIdNotFound"
        _, date, service, _ = cred
        signed = fields.get("SignedHeaders", "").split(";")
        canonical_headers = "".join(f"{h}:{req.headers.get(h, '').strip()}\n" for h in signed)
        canonical = "\n".join(("POST", "/", "", canonical_headers, ";".join(signed),
                               hashlib.sha256(req.body).hexdigest()))
        ts = req.headers.get("x-tc-timestamp", "")
        scope = f"{date}/{service}/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

        def h(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        k = h(h(h(("TC3" + self.secret).encode(), date), service), "tc3_request")
        expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, fields.get("Signature", "")) else "AuthFailure.SignatureFailure"

    @staticmethod
    def _error(code: str, message: str) -> Reply:
        return Reply.json(200, {"Response": {"Error": {"Code": code, "Message": message},
                                             "RequestId": f"req-{time.monotonic_ns()}"}})

    def handle(self, req: Received) -> Reply:
        problem = self._verify(req)
        if problem is not None:
            return self._error(problem, "The provided credentials could not be validated.")
        action = req.headers.get("x-tc-action", "")
        body = json.loads(req.body or b"{}")
        if action == "DescribeSmsSignList":
            return Reply.json(200, {"Response": {"DescribeSignListStatusSet": [], "RequestId": "req-sign"}})
        if action != "SendSms":
            return self._error("InvalidAction", f"unknown action {action}")
        if self._take_throttle():
            return self._error("RequestLimitExceeded", "请求频率超过限制")
        phones = body.get("PhoneNumberSet") or []
        if len(phones) > 200:
            return self._error("LimitExceeded.DeliveryFrequencyLimit", "单次请求号码数超过200")
        text_len = sum(len(p) for p in body.get("TemplateParamSet") or []) + 20
        fee = 1 if text_len <= 70 else -(-text_len // 67)
        statuses = []
        reports = []
        for p in phones:
            serial = f"{self.next_id()}:{time.monotonic_ns() % 10**9}"
            if p.endswith("0000"):
                statuses.append({"SerialNo": "", "PhoneNumber": p, "Fee": 0, "SessionContext": body.get(
                    "SessionContext", ""), "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                    "Message": "手机号格式错误", "IsoCode": "CN"})
                continue
            if p.endswith("0009"):
                statuses.append({"SerialNo": "", "PhoneNumber": p, "Fee": 0, "SessionContext": body.get(
                    "SessionContext", ""), "Code": "LimitExceeded.PhoneNumberDailyLimit",
                    "Message": "单个手机号日下发短信条数超过设定的上限", "IsoCode": "CN"})
                continue
            statuses.append({"SerialNo": serial, "PhoneNumber": p, "Fee": fee,
                             "SessionContext": body.get("SessionContext", ""), "Code": "Ok",
                             "Message": "send success", "IsoCode": "CN"})
            self.sent.append({"sid": serial, "phone": p, "session_context": body.get("SessionContext", ""),
                              "template": body.get("TemplateId"), "params": body.get("TemplateParamSet")})
            ok, stat = outcome_of(p)
            reports.append({"user_receive_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                            "nationcode": "86", "mobile": p.removeprefix("+86"),
                            "report_status": "SUCCESS" if ok else "FAIL", "errmsg": "DELIVRD" if ok else stat,
                            "description": "用户短信送达成功" if ok else "用户短信未送达", "sid": serial})
        if reports and self.report_url:
            self.post_later(self.report_url, json.dumps(reports, ensure_ascii=False).encode(),
                            {"content-type": "application/json"})
        return Reply.json(200, {"Response": {"SendStatusSet": statuses, "RequestId": "req-ok"}})

    def send_mo(self, phone: str, text: str) -> None:
        body = {"extend": "", "mobile": phone.removeprefix("+86"), "nationcode": "86", "sign": "阳光消费金融",
                "text": text, "time": int(time.time())}
        self.post_later(self.reply_url, json.dumps(body, ensure_ascii=False).encode(),
                        {"content-type": "application/json"}, delay=0.0)


# --------------------------------------------------------------------------------------------- Twilio


class TwilioPeer(HttpPeer):
    """2010-04-01 Messages create / Account fetch, basic auth; status callbacks signed with X-Twilio-Signature."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        super().__init__()

    def _authorised(self, req: Received) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest(req.headers.get("authorization", ""), expected)

    @staticmethod
    def _error(status: int, code: int, message: str) -> Reply:
        return Reply.json(status, {"code": code, "message": message, "more_info":
                                   f"https://www.twilio.com/docs/errors/{code}", "status": status})

    def handle(self, req: Received) -> Reply:
        if not self._authorised(req):
            return self._error(401, 20003, "Authenticate")
        base = f"/2010-04-01/Accounts/{self.account_sid}"
        if req.method == "GET" and req.route == base + ".json":
            return Reply.json(200, {"sid": self.account_sid, "status": "active", "friendly_name": "dunning"})
        if req.method != "POST" or req.route != base + "/Messages.json":
            return self._error(404, 20404, "The requested resource was not found")
        if self._take_throttle():
            return self._error(429, 20429, "Too Many Requests")
        form = dict(urllib.parse.parse_qsl(req.body.decode(), keep_blank_values=True))
        to = form.get("To", "")
        if to.endswith("0000"):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        body = form.get("Body", "")
        units = len(body.encode("utf-16-be")) // 2
        segments = 1 if units <= 70 else -(-units // 67)
        sid = f"SM{self.next_id():032x}"
        self.sent.append({"sid": sid, "to": to, "body": body, "status_callback": form.get("StatusCallback", "")})
        callback = form.get("StatusCallback")
        if callback:
            ok, _ = outcome_of(to)
            for status in ("sent", "delivered" if ok else "undelivered"):
                params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid, "To": to,
                          "From": form.get("From", ""), "MessageStatus": status, "SmsStatus": status}
                if status == "undelivered":
                    params["ErrorCode"] = "30003"
                self._post_signed(callback, params)
        return Reply.json(201, {"sid": sid, "account_sid": self.account_sid, "to": to, "from": form.get("From"),
                                "body": body, "status": "queued", "num_segments": str(segments),
                                "error_code": None, "error_message": None, "direction": "outbound-api",
                                "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")})

    def _post_signed(self, url: str, params: dict[str, str], delay: float = 0.05) -> None:
        signature = self.validator.compute_signature(url, params)
        self.post_later(url, urllib.parse.urlencode(params).encode(),
                        {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
                        delay=delay)

    def send_mo(self, sms_url: str, phone: str, text: str) -> None:
        sid = f"SM{self.next_id():032x}"
        self._post_signed(sms_url, {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid,
                                    "From": phone, "To": "+15005550006", "Body": text, "NumSegments": "1"}, 0.0)


# --------------------------------------------------------------------------------------------- webhook sink


class WebhookSink(HttpPeer):
    """Where peers deliver callbacks in tests: records every request and answers 200."""

    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        super().__init__()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def handle(self, req: Received) -> Reply:
        self.received.put(req)
        return Reply(200, b"OK", "text/plain")

    def drain(self, min_count: int = 1, timeout: float = 10.0, settle: float = 0.3) -> list[Received]:
        """Requests received so far; waits up to ``timeout`` for ``min_count``, then ``settle`` for stragglers."""
        out: list[Received] = []
        deadline = time.monotonic() + timeout
        while len(out) < min_count and time.monotonic() < deadline:
            try:
                out.append(self.received.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        end = time.monotonic() + settle
        while time.monotonic() < end:
            try:
                out.append(self.received.get(timeout=max(0.0, end - time.monotonic())))
            except queue.Empty:
                break
        return out
