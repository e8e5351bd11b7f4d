"""The error tree of dunning. Every error has a stable ``code`` a user or a script can act on.

::

    DunningError                       code
    ├── ConfigError                    config.*          settings or policy files that cannot be used
    ├── InputError                     input.*           a user's file or argument is unusable as a whole
    │   └── MissingColumnsError        input.missing_columns
    ├── NotFoundError                  not_found.*       an id that does not exist
    ├── StateError                     state.*           an action not allowed in the current state
    ├── PermissionDenied               auth.forbidden    the actor's role may not do this
    ├── ComplianceBlocked              compliance.block  a template or message has a blocking finding
    └── ChannelError                   channel.*         raised by channel adapters (see channels/base.py)
        ├── TransientChannelError      channel.transient     retry later with backoff
        ├── RateLimitedError           channel.rate_limited  retry after ``retry_after`` seconds
        └── PermanentChannelError      channel.permanent     do not retry on this channel

Messages are Chinese first (``message_zh``) with an English rendering (``message_en``). A subclass declares its
code as a class keyword: ``class ConfigError(DunningError, code="config.invalid")``.
"""

from __future__ import annotations


class DunningError(Exception):
    """Root of every error dunning raises on purpose."""

    code: str = "dunning.error"

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: object) -> None:
        """``class X(DunningError, code="area.what")`` declares the code every ``X`` carries."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, message_zh: str, message_en: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.message_en = message_en or message_zh
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en}


class ConfigError(DunningError, code="config.invalid"): ...


class InputError(DunningError, code="input.invalid"): ...


class MissingColumnsError(InputError, code="input.missing_columns"):
    def __init__(self, found: list[str], missing: list[str], file: str) -> None:
        self.found = found
        self.missing = missing
        self.file = file
        super().__init__(
            f"文件 {file} 缺少必需的列：{'、'.join(missing)}。文件中找到的列：{'、'.join(found) or '（无）'}。"
            "请检查表头，或用 --mapping 指定列映射。",
            f"{file} lacks required columns: {', '.join(missing)}. Columns found: {', '.join(found) or '(none)'}."
            " Check the header row or pass --mapping.",
        )


class NotFoundError(DunningError, code="not_found"): ...


class StateError(DunningError, code="state.invalid_transition"): ...


class PermissionDenied(DunningError, code="auth.forbidden"): ...


class ComplianceBlocked(DunningError, code="compliance.block"): ...


class ChannelError(DunningError, code="channel.error"):
    """Raised by a channel adapter. ``retryable`` tells dispatch whether the same channel may be tried again."""

    retryable = False


class TransientChannelError(ChannelError, code="channel.transient"):
    retryable = True


class RateLimitedError(ChannelError, code="channel.rate_limited"):
    retryable = True

    def __init__(self, message_zh: str, message_en: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(message_zh, message_en)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError, code="channel.permanent"): ...
