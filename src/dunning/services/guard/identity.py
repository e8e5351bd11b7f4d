"""Who is acting on the command line. ``--as NAME`` alone proves nothing (anyone can type a name): the person
is authenticated by an API token, by their password, or by a mapping from their OS account to their app
user that an administrator set (:func:`map_os_user`). Unknown names are refused.

User administration on a fresh install (no active administrator yet) is the one exception: whoever runs the
command is the installation's owner (they can read its data directory) and acts as ``os:<name>`` until the
first administrator exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from dunning.db.models import User
from dunning.db.security_models import CliIdentity
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.identity import auth
from dunning.services.identity.auth import AuthFailed
from dunning.services.identity.users import Role, get_user

HOW = ("请用 API 令牌（环境变量 DUNNING_TOKEN 或 --token）、本人密码（--as 用户名，按提示输入或设 DUNNING_PASSWORD），"
       "或请管理员绑定系统用户（dunning users map-os 系统用户 用户名）。",
       "Use an API token (DUNNING_TOKEN or --token), your password (--as NAME, then the prompt or "
       "DUNNING_PASSWORD), or ask an administrator to map your OS account (dunning users map-os OSUSER NAME).")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the command line was given: the claimed name (``--as``), a token, a password; the OS account."""

    os_user: str
    claimed: str | None = None
    token: str | None = None
    password: str | None = None


def mapped_user(ctx: AppContext, os_user: str) -> str | None:
    """The active app user ``os_user`` is mapped to, if any."""
    with ctx.db.transaction() as s:
        return s.scalar(select(User.username).join(CliIdentity, CliIdentity.user_id == User.id)
                        .where(CliIdentity.os_user == os_user, User.active.is_(True)))


def authenticate(ctx: AppContext, cred: Credentials) -> str:
    """The app user ``cred`` proves, or :class:`AuthFailed` with what to do."""
    claimed = cred.claimed.strip() if cred.claimed else None
    if cred.token:
        p = auth.token_principal(ctx, cred.token)
        if p is None:
            raise AuthFailed("API 令牌无效、已吊销，或其用户已停用。", "The API token is unknown, revoked, or its user "
                             "is deactivated.", code="auth.token")
        if claimed and claimed != p.username:
            raise AuthFailed(f"令牌属于 {p.username}，不能以 {claimed} 的身份操作。",
                             f"the token belongs to {p.username!r}, not {claimed!r}", code="auth.mismatch")
        return p.username
    if claimed and cred.password is not None:
        return auth.login(ctx, claimed, cred.password, ip=f"cli:{cred.os_user}"[:64]).username
    mapped = mapped_user(ctx, cred.os_user)
    if mapped and (not claimed or claimed == mapped):
        return mapped
    if mapped:
        raise AuthFailed(f"系统用户 {cred.os_user} 绑定的是 {mapped}，以 {claimed} 身份操作需要其令牌或密码。",
                         f"OS user {cred.os_user!r} is mapped to {mapped!r}; acting as {claimed!r} needs their "
                         "token or password.", code="auth.mismatch")
    who = f"以 {claimed} 身份操作" if claimed else "操作"
    raise AuthFailed(f"无法确认操作人：{who}需要身份认证。{HOW[0]}", f"Cannot tell who is acting. {HOW[1]}",
                     code="auth.cli")


def authenticate_admin(ctx: AppContext, cred: Credentials) -> str:
    """An authenticated administrator — or, while the installation has none, its owner (``os:<name>``)."""
    with ctx.db.transaction() as s:
        admins = s.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN.value,
                                                                       User.active.is_(True))) or 0
    if admins == 0 and not cred.token and cred.password is None and mapped_user(ctx, cred.os_user) is None:
        return f"os:{cred.os_user}"[:64]
    username = authenticate(ctx, cred)
    with ctx.db.transaction() as s:
        if get_user(s, username).role != Role.ADMIN.value:
            raise AuthFailed(f"用户管理需要管理员，{username} 不是管理员。",
                             f"user administration needs an administrator; {username!r} is not one",
                             code="auth.forbidden")
    return username


def map_os_user(ctx: AppContext, os_user: str, username: str | None, *, actor: str) -> None:
    """Let ``os_user`` act as ``username`` on the CLI (``None`` removes the mapping). Audited."""
    os_user = os_user.strip()[:64]
    with ctx.db.transaction() as s:
        before = s.scalar(select(User.username).join(CliIdentity, CliIdentity.user_id == User.id)
                          .where(CliIdentity.os_user == os_user))
        s.execute(delete(CliIdentity).where(CliIdentity.os_user == os_user))
        if username:
            user = get_user(s, username)
            s.add(CliIdentity(os_user=os_user, user_id=user.id, created_by=actor[:64], created_at=ctx.now()))
        audit.record(s, at=ctx.now(), actor=actor, action="user.map_os", entity="os_user", entity_id=os_user,
                     before={"username": before}, after={"username": username})


def after_user_added(ctx: AppContext, actor: str, username: str, role: str) -> None:
    """The first administrator of a fresh install, added by its owner (``os:<name>``), is that owner: their OS
    account is mapped to it, so the bootstrap ends with a person the CLI can authenticate."""
    if actor.startswith("os:") and role == Role.ADMIN.value:
        map_os_user(ctx, actor.removeprefix("os:"), username, actor=actor)
