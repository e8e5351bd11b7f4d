"""Users and roles. Passwords are hashed with argon2; roles decide what each user may do."""

from __future__ import annotations

from enum import StrEnum

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from dunning.db.models import User
from dunning.errors import InputError, NotFoundError, PermissionDenied
from dunning.services import audit
from dunning.services.context import AppContext


class Role(StrEnum):
    ADMIN = "admin"
    STRATEGIST = "strategist"
    COMPLIANCE = "compliance"
    OPERATOR = "operator"
    VIEWER = "viewer"
    AGENCY = "agency"
    COLLECTOR = "collector"
    TEAM_LEAD = "team_lead"
    SUPERVISOR = "supervisor"


ROLE_ZH = {
    Role.ADMIN: "管理员",
    Role.STRATEGIST: "策略员",
    Role.COMPLIANCE: "合规审核",
    Role.OPERATOR: "运营",
    Role.VIEWER: "只读",
    Role.AGENCY: "委外机构",
    Role.COLLECTOR: "外访员",
    Role.TEAM_LEAD: "外访组长",
    Role.SUPERVISOR: "外访主管",
}

# Field-visit roles; one with an agency sees only that agency's accounts, visits and messages.
FIELD_ROLES = frozenset({Role.COLLECTOR, Role.TEAM_LEAD, Role.SUPERVISOR})
MIN_PASSWORD = 8  # the one password rule, for the CLI, the console and the API alike

DEMO_USERS = (
    ("wang.ops", "运营-王敏", Role.OPERATOR),
    ("li.compliance", "合规-李静", Role.COMPLIANCE),
)


def hasher() -> PasswordHasher:
    return PasswordHasher()


def check_password(password: str) -> None:
    """The password rule every entry point applies (``users add``, ``users password``, the users page)."""
    if len(password) < MIN_PASSWORD or not password.strip():
        raise InputError(f"密码至少 {MIN_PASSWORD} 位。", f"passwords need at least {MIN_PASSWORD} characters",
                         code="input.password")


def add_user(ctx: AppContext, username: str, role: str, *, password: str | None = None,
             display_name: str = "", agency: str | None = None, actor: str = "system") -> User:
    try:
        r = Role(role)
    except ValueError:
        raise InputError(f"未知角色 {role}，可选：{', '.join(x.value for x in Role)}",
                         f"unknown role {role!r}", code="user.role") from None
    if r is Role.AGENCY and not agency:
        raise InputError("委外机构用户须指定所属机构（--agency）", "agency users need --agency", code="user.agency")
    if password is not None:
        check_password(password)
    with ctx.db.transaction() as s:
        if s.scalars(select(User).where(User.username == username)).first() is not None:
            raise InputError(f"用户 {username} 已存在", f"user {username!r} exists", code="user.exists")
        user = User(username=username, display_name=display_name or username, role=r.value,
                    password_hash=hasher().hash(password) if password else None, agency=agency,
                    created_at=ctx.now())
        s.add(user)
        audit.record(s, at=ctx.now(), actor=actor, action="user.add", entity="user", entity_id=username,
                     after={"role": r.value, "agency": agency})
    return user


def get_user(s: Session, username: str) -> User:
    user = s.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
    if user is None:
        raise NotFoundError(f"用户 {username} 不存在或已停用", f"no active user {username!r}", code="not_found.user")
    return user


def require_role(s: Session, username: str, *roles: Role) -> User:
    user = get_user(s, username)
    if user.role != Role.ADMIN and user.role not in {r.value for r in roles}:
        need = "、".join(ROLE_ZH[r] for r in roles)
        raise PermissionDenied(f"用户 {username}（{ROLE_ZH[Role(user.role)]}）无权执行此操作，需要角色：{need}",
                               f"user {username!r} ({user.role}) may not do this; needs {', '.join(roles)}")
    return user


def ensure_demo_users(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        for username, name, role in DEMO_USERS:
            if s.scalars(select(User.id).where(User.username == username)).first() is None:
                s.add(User(username=username, display_name=name, role=role.value, created_at=ctx.now()))
