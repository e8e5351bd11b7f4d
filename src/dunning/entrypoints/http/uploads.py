"""Uploaded files are written under ``data_dir/uploads/<stamp>/`` (folder 0700, files 0600) before a service
reads them. Each is copied in chunks and refused as soon as it passes the limit; a refused upload leaves
nothing behind."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from datetime import datetime
from pathlib import Path

from fastapi import UploadFile

from dunning.config import ensure_private_dir
from dunning.errors import InputError
from dunning.services.context import AppContext

MAX_UPLOAD_BYTES = 2 * 1024**3
PORTFOLIO_TYPES = (".csv", ".txt", ".xlsx", ".xls", ".parquet")  # what an account import accepts
_SAFE = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def safe_name(filename: str | None, default: str) -> str:
    name = Path(filename or default).name
    name = _SAFE.sub("_", name).strip("._") or default
    return name[:120]


def save_uploads(ctx: AppContext, files: list[UploadFile], *, allowed: tuple[str, ...]) -> list[Path]:
    """Write each upload to a fresh folder; refuse unknown extensions and empty files with a clear message."""
    folder = ctx.data_dir / "uploads" / f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    out: list[Path] = []
    try:
        for i, f in enumerate(files):
            name = safe_name(f.filename, f"upload-{i}")
            if not name.lower().endswith(allowed):
                raise InputError(f"不支持的文件类型：{name}。请上传 {'、'.join(allowed)} 文件。",
                                 f"unsupported file type: {name}; upload {', '.join(allowed)}",
                                 code="input.file_type")
            ensure_private_dir(folder)
            target = folder / name
            size = _copy_limited(f, target, name)
            if size == 0:
                raise InputError(f"文件 {name} 是空的。", f"file {name} is empty", code="input.empty_file")
            out.append(target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a refused upload leaves no personal data behind
        raise
    return out


def _copy_limited(f: UploadFile, target: Path, name: str) -> int:
    """Copy ``f`` to ``target`` (created 0600) in 1 MiB chunks; refuse past :data:`MAX_UPLOAD_BYTES`."""
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        while chunk := f.file.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise InputError(f"文件 {name} 超过 2 GB，请拆分后上传或使用命令行导入。",
                                 f"file {name} exceeds 2 GB; split it or use the CLI", code="input.too_large")
            fh.write(chunk)
    return size
