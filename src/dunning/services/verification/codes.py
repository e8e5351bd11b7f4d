"""Per-message verification codes: derived with a keyed HMAC from the message's idempotency key.

Only a hash of (phone, code) is stored, so the database alone cannot produce a code, and a code alone (without
the phone it was sent to) finds nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: readable over the phone
CODE_LENGTH = 6
# Stands for the code in stored texts; the code goes in as the message leaves (services/guard/codefill.py).
# Same width as a code, so length and part counts of the stored text are those of the sent one.
CODE_PLACEHOLDER = "#CODE#"
assert len(CODE_PLACEHOLDER) == CODE_LENGTH  # nosec B101  # an import-time invariant of constants


def _code_of(n: int) -> str:
    chars = []
    for _ in range(CODE_LENGTH):
        n, r = divmod(n, len(ALPHABET))
        chars.append(ALPHABET[r])
    return "".join(chars)


def _code_number(secret: bytes, idempotency_key: str) -> int:
    return int.from_bytes(hmac.digest(secret, b"code|" + idempotency_key.encode(), "sha256")[:8], "big")


def code_for(secret: bytes, idempotency_key: str) -> str:
    return _code_of(_code_number(secret, idempotency_key))


def stored_hash(secret: bytes, phone: str, code: str) -> str:
    return hmac.digest(secret, f"store|{phone}|{code.upper()}".encode(), "sha256").hex()


def codes_and_hashes(secret: bytes, keys: Sequence[str], phones: Sequence[str]) -> tuple[list[str], list[str]]:
    """Codes and stored hashes for many messages. HMAC has no vectorised form in Polars, so the digests are
    one-shot ``hmac.digest`` calls (OpenSSL, no Python HMAC object per message). Runs only on the messages that
    will actually be sent."""
    codes = [_code_of(_code_number(secret, k)) for k in keys]
    hashes = [stored_hash(secret, p, c) for p, c in zip(phones, codes, strict=True)]
    return codes, hashes
