"""Uploaded files are written under ``data_dir/uploads/<stamp>/`` before a service reads them."""

from __future__ import annotations

import re
import secrets
import shutil
from datetime import datetime
from pathlib import Path

from fastapi import UploadFile

from dunning.errors import InputError
from dunning.services.context import AppContext

MAX_UPLOAD_BYTES = 2 * 1024**3
_SAFE = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def safe_name(filename: str | None, default: str) -> str:
    name = Path(filename or default).name
    name = _SAFE.sub("_", name).strip("._") or default
    return name[:120]


def save_uploads(ctx: AppContext, files: list[UploadFile], *, allowed: tuple[str, ...]) -> list[Path]:
    """Write each upload to a fresh folder; refuse unknown extensions and empty files with a clear message."""
    folder = ctx.data_dir / "uploads" / f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    out: list[Path] = []
    for i, f in enumerate(files):
        name = safe_name(f.filename, f"upload-{i}")
        if not name.lower().endswith(allowed):
            raise InputError(f"不支持的文件类型：{name}。请上传 {'、'.join(allowed)} 文件。",
                             f"unsupported file type: {name}; upload {', '.join(allowed)}", code="input.file_type")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        with target.open("wb") as fh:
            shutil.copyfileobj(f.file, fh, length=1 << 20)
        size = target.stat().st_size
        if size == 0:
            raise InputError(f"文件 {name} 是空的。", f"file {name} is empty", code="input.empty_file")
        if size > MAX_UPLOAD_BYTES:
            raise InputError(f"文件 {name} 超过 2 GB，请拆分后上传或使用命令行导入。",
                             f"file {name} exceeds 2 GB; split it or use the CLI", code="input.too_large")
        out.append(target)
    return out
