"""Authentication for people and machines: console logins, signed sessions with CSRF tokens, API tokens.

Contracts:

* :func:`login` verifies an argon2 hash. After ``AuthPolicy.max_failures`` wrong passwords in a row the user is
  locked for ``AuthPolicy.lockout``; attempts per client address are limited in a fixed window counted in the
  database (shared by every worker). An unknown user name costs the same argon2 work as a known one and gets the
  same answer as a wrong password. Every attempt writes one audit event (``entity="login_ip"``, the address as
  ``entity_id``) — the same rows the rate limit counts.
* A session is a cookie signed with the server secret (itsdangerous): a random session id, the user name (or
  none before login) and the issue time. The user is re-read from the database on every request, so a
  deactivated user or a changed role takes effect at once. The CSRF token is an HMAC of the session id: every
  form carries it, and a fresh id is issued at login (no session fixation). Logging out revokes the session
  id server-side, and a password reset or deactivation revokes every session issued before it: both are audit
  events, so the audit log doubles as the revocation list (one indexed lookup per request).
* An API token is ``dun_`` + 32 random bytes, shown once; only its SHA-256 is stored. A token acts with its
  user's role, and stops working when revoked or when the user is deactivated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import and_, func, or_, select

from dunning.db.models import ApiToken, AuditEvent, User
from dunning.errors import DunningError, NotFoundError
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.identity.users import (
    MIN_PASSWORD as MIN_PASSWORD,  # the rule lives in users.check_password
)
from dunning.services.identity.users import ROLE_ZH, Role, check_password, get_user, hasher

TOKEN_PREFIX = "dun_"  # nosec B105  # not a password (a constant naming a token format or slot)


class AuthFailed(DunningError, code="auth.failed"):
    """Wrong user name or password, or a locked account (HTTP 401)."""


class LoginThrottled(DunningError, code="auth.rate_limited"):
    """Too many login attempts from one address in the current window (HTTP 429)."""

    def __init__(self, message_zh: str, message_en: str, *, retry_after: int) -> None:
        super().__init__(message_zh, message_en)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    ip_window: timedelta = timedelta(minutes=10)
    ip_max_attempts: int = 30
    session_max_age: int = 12 * 3600  # seconds


DEFAULT_POLICY = AuthPolicy()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a person through a session or a machine through a token, with one role."""

    username: str
    display_name: str
    role: Role
    agency: str | None = None
    via: str = "session"  # session | token

    @property
    def role_zh(self) -> str:
        return ROLE_ZH[self.role]

    def has(self, *roles: Role) -> bool:
        """Admin may do everything; otherwise the role must be one of ``roles``."""
        return self.role is Role.ADMIN or self.role in roles


def principal_of(user: User, via: str) -> Principal:
    """The principal a user acts as through ``via`` (session, token, cli)."""
    return Principal(user.username, user.display_name or user.username, Role(user.role), user.agency, via)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash(secrets.token_hex(16))


def _window_start(now: datetime, span: timedelta) -> datetime:
    seconds = int(span.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _backoff(s: Any, username: str, ip: str, now: datetime, policy: AuthPolicy) -> tuple[int, datetime | None]:
    """Failed logins of ``username`` from ``ip`` since their last success (or an unlock), within the lockout
    span, and when the last one was."""
    since = now - policy.lockout
    reset = s.scalar(select(func.max(AuditEvent.at)).where(or_(
        and_(AuditEvent.action == "auth.login", AuditEvent.actor == username, AuditEvent.entity_id == ip),
        and_(AuditEvent.action == "user.unlock", AuditEvent.entity_id == username))))
    if reset is not None and reset > since:
        since = reset
    n, last = s.execute(select(func.count(), func.max(AuditEvent.at)).where(
        AuditEvent.action == "auth.login_failed", AuditEvent.actor == username, AuditEvent.entity == "login_ip",
        AuditEvent.entity_id == ip, AuditEvent.at > since)).one()
    return int(n or 0), last


def login(ctx: AppContext, username: str, password: str, *, ip: str,
          policy: AuthPolicy = DEFAULT_POLICY) -> Principal:
    """Check a console login. Raises :class:`LoginThrottled` or :class:`AuthFailed`; returns the principal.

    Wrong passwords back off per (user, address): after ``max_failures`` in a row from one address, further
    tries from it wait 30 s, then 1, 2, 4… minutes (at most ``lockout``) — the same user from elsewhere is not
    locked out, so five requests cannot lock anyone out. Every refusal reads the same ("wrong user name or
    password"), whether the account exists, the password was wrong or the address is backing off."""
    now = ctx.now()
    username = username.strip()[:64]
    ip = ip[:64] or "unknown"
    outcome: str
    user_row: Principal | None = None
    with ctx.db.transaction() as s:
        since = _window_start(now, policy.ip_window)
        attempts = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "login_ip", AuditEvent.entity_id == ip, AuditEvent.at >= since)) or 0
        if attempts >= policy.ip_max_attempts:
            retry = int((since + policy.ip_window - now).total_seconds()) + 1
            raise LoginThrottled(f"登录尝试过于频繁，请 {max(1, retry // 60)} 分钟后再试。",
                                 f"Too many login attempts; try again in {max(1, retry // 60)} minutes.",
                                 retry_after=retry)
        user = s.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        ok = _verify(user.password_hash if user else None, password)  # always: the same work either way
        failures, last = _backoff(s, username, ip, now, policy)
        wait = timedelta(0)
        if failures >= policy.max_failures:
            wait = min(policy.lockout, timedelta(seconds=30) * 2 ** (failures - policy.max_failures))
        if last is not None and now - last < wait:
            outcome = "locked"
        elif user is not None and ok:
            outcome = "ok"
            user.failed_logins = 0
            user.locked_until = None
            if user.password_hash and hasher().check_needs_rehash(user.password_hash):
                user.password_hash = hasher().hash(password)
            user_row = principal_of(user, "session")
        else:
            outcome = "failed"
            if user is not None:
                user.failed_logins = (user.failed_logins or 0) + 1
            if failures + 1 == policy.max_failures:  # an alert for the administrators, once per streak
                audit.record(s, at=now, actor="system", action="auth.locked", entity="user",
                             entity_id=username, after={"ip": ip, "backoff": "per user and address"})
        action = {"ok": "auth.login", "failed": "auth.login_failed", "locked": "auth.login_locked"}[outcome]
        audit.record(s, at=now, actor=username or "-", action=action, entity="login_ip", entity_id=ip)
    if outcome == "ok":
        assert user_row is not None  # nosec B101  # set on the "ok" branch above
        return user_row
    raise AuthFailed("用户名或密码错误。", "Wrong user name or password.")


def session_key(sid: str) -> str:
    """What the audit log keeps of a session id (never the id itself)."""
    return hashlib.sha256(b"session|" + sid.encode()).hexdigest()[:32]


def logout(ctx: AppContext, username: str, *, ip: str, sid: str) -> None:
    with ctx.db.transaction() as s:
        audit.record(s, at=ctx.now(), actor=username, action="auth.logout", entity="session",
                     entity_id=session_key(sid), after={"ip": ip[:64]})


def active_principal(ctx: AppContext, username: str, *, sid: str, issued: float) -> Principal | None:
    """The session's user as they are now: ``None`` when removed, deactivated, logged out from this session,
    or when the password was reset (or the user deactivated) after the session was issued."""
    issued_at = datetime.fromtimestamp(issued, tz=UTC)
    with ctx.db.transaction() as s:
        user = s.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        if user is None:
            return None
        revoked = s.scalars(select(AuditEvent.id).where(or_(
            and_(AuditEvent.entity == "session", AuditEvent.entity_id == session_key(sid),
                 AuditEvent.action == "auth.logout"),
            and_(AuditEvent.entity == "user", AuditEvent.entity_id == username,
                 AuditEvent.action.in_(("user.password", "user.deactivate")), AuditEvent.at > issued_at),
        )).limit(1)).first()
        return None if revoked is not None else principal_of(user, "session")


def set_password(ctx: AppContext, username: str, password: str, *, actor: str) -> None:
    check_password(password)
    with ctx.db.transaction() as s:
        user = get_user(s, username)
        user.password_hash = hasher().hash(password)
        user.failed_logins = 0
        user.locked_until = None
        audit.record(s, at=ctx.now(), actor=actor, action="user.password", entity="user", entity_id=username)


def unlock(ctx: AppContext, username: str, *, actor: str) -> None:
    with ctx.db.transaction() as s:
        user = get_user(s, username)
        before = user.locked_until.isoformat() if user.locked_until else None
        user.failed_logins = 0
        user.locked_until = None
        audit.record(s, at=ctx.now(), actor=actor, action="user.unlock", entity="user", entity_id=username,
                     before={"locked_until": before})


def set_active(ctx: AppContext, username: str, active: bool, *, actor: str) -> None:
    with ctx.db.transaction() as s:
        user = s.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"用户 {username} 不存在", f"no user {username!r}", code="not_found.user")
        if user.active != active:
            user.active = active
            revoked = 0
            if not active:  # a deactivated user's tokens die with the deactivation: reactivating revives none
                rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                        ApiToken.revoked.is_(False))).all()
                for row in rows:
                    row.revoked = True
                revoked = len(rows)
            audit.record(s, at=ctx.now(), actor=actor, action="user.activate" if active else "user.deactivate",
                         entity="user", entity_id=username, after=None if active else {"tokens_revoked": revoked})


@dataclass(frozen=True, slots=True)
class UserRow:
    username: str
    display_name: str
    role: str
    agency: str | None
    active: bool
    locked_until: datetime | None
    has_password: bool
    tokens: int


def list_users(ctx: AppContext) -> list[UserRow]:
    with ctx.db.transaction() as s:
        counts = dict(s.execute(select(ApiToken.user_id, func.count()).where(ApiToken.revoked.is_(False))
                                .group_by(ApiToken.user_id)).all())
        users = s.scalars(select(User).order_by(User.username)).all()
        now = ctx.now()
        return [UserRow(u.username, u.display_name, u.role, u.agency, u.active,
                        u.locked_until if u.locked_until and u.locked_until > now else None,
                        u.password_hash is not None, int(counts.get(u.id, 0))) for u in users]


# --------------------------------------------------------------------------------------------- API tokens


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(ctx: AppContext, username: str, *, label: str = "", actor: str) -> str:
    """Create an API token for ``username``; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.db.transaction() as s:
        user = get_user(s, username)
        row = ApiToken(user_id=user.id, token_hash=_token_hash(token), label=label[:128], created_at=ctx.now())
        s.add(row)
        s.flush()
        audit.record(s, at=ctx.now(), actor=actor, action="token.issue", entity="user", entity_id=username,
                     after={"token_id": row.id, "label": label[:128]})
    return token


def revoke_tokens(ctx: AppContext, username: str, *, actor: str) -> int:
    with ctx.db.transaction() as s:
        user = get_user(s, username)
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))).all()
        for row in rows:
            row.revoked = True
        audit.record(s, at=ctx.now(), actor=actor, action="token.revoke", entity="user", entity_id=username,
                     after={"revoked": len(rows)})
        return len(rows)


def token_principal(ctx: AppContext, token: str) -> Principal | None:
    """The principal a bearer token acts as, or ``None`` for an unknown, revoked or orphaned token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with ctx.db.transaction() as s:
        row = s.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(
            ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False), User.active.is_(True))).first()
        if row is None:
            return None
        return principal_of(row[1], "token")


# ------------------------------------------------------------------------------------------------ sessions


@dataclass(frozen=True, slots=True)
class SessionData:
    sid: str
    username: str | None = None
    issued: float = 0.0
    flash: tuple[tuple[str, str], ...] = ()  # (kind, text) shown once on the next page
    # (list page, phone): a phone filter kept here instead of in the page's URL (access logs, history, Referer);
    # encrypted in the cookie, whose other fields are only signed (readable by anyone holding it)
    search: tuple[tuple[str, str], ...] = ()


class SessionCodec:
    """Signs and reads the session cookie; derives the CSRF token of a session."""

    def __init__(self, secret: bytes, *, max_age: int = DEFAULT_POLICY.session_max_age,
                 clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # the clock login times are taken from (the business clock in drills)
        self._serializer = URLSafeTimedSerializer(secret, salt="dunning.session")
        self._csrf_key = hmac.new(secret, b"dunning.csrf", hashlib.sha256).digest()
        # The kept search phones are personal data: encrypted (Fernet: AES-CBC + HMAC), with a key of their own
        self._sealer = Fernet(base64.urlsafe_b64encode(hmac.new(secret, b"dunning.search", hashlib.sha256).digest()))
        self.max_age = max_age

    @staticmethod
    def new(username: str | None = None, issued: float | None = None) -> SessionData:
        return SessionData(sid=secrets.token_urlsafe(18), username=username,
                           issued=time.time() if issued is None else issued)

    def dumps(self, data: SessionData) -> str:
        payload: dict[str, Any] = {"s": data.sid, "u": data.username, "t": data.issued}
        if data.flash:
            payload["f"] = [list(f) for f in data.flash]
        if data.search:
            payload["p"] = self._sealer.encrypt(json.dumps([list(p) for p in data.search]).encode()).decode()
        return str(self._serializer.dumps(payload))

    def loads(self, raw: str) -> SessionData | None:
        try:
            payload = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("s"), str):
            return None
        flash = tuple((str(k), str(v)) for k, v in payload.get("f", []) if isinstance(k, str))
        search = self._unseal(payload.get("p"))
        user = payload.get("u")
        issued = float(payload.get("t", 0))
        if isinstance(user, str) and self._clock() - issued > self.max_age:
            # an absolute lifetime counted from login: re-signing the cookie on every write does not extend it
            return None
        return SessionData(payload["s"], user if isinstance(user, str) else None, issued, flash, search)

    def _unseal(self, sealed: Any) -> tuple[tuple[str, str], ...]:
        """The kept search phones, or none when absent or unreadable (an older cookie, another secret)."""
        if not isinstance(sealed, str):
            return ()
        try:
            items = json.loads(self._sealer.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            return ()
        return tuple((str(p[0]), str(p[1])) for p in items if isinstance(p, list) and len(p) == 2)

    def csrf_token(self, session: SessionData) -> str:
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()[:40]

    def csrf_ok(self, session: SessionData, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), token or "")
