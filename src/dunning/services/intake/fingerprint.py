"""What makes two imports the same: the bytes of their files, not the files' names."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path


def content_shas(salt: bytes, paths: Sequence[Path]) -> tuple[str, str]:
    """(content digest, earlier digest) of ``paths`` in order, after ``salt``.

    The content digest reads only the bytes, so a renamed copy of an imported file is the same import. The
    earlier digest also hashed each file's name; imports stored before this change carry it, and a lookup by
    both keeps recognising them.
    """
    by_content, with_names = hashlib.sha256(salt), hashlib.sha256(salt)
    for p in paths:
        by_content.update(b"\0")
        with_names.update(b"\0" + p.name.encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                by_content.update(chunk)
                with_names.update(chunk)
    return by_content.hexdigest(), with_names.hexdigest()
