"""Point 3: after a fresh `dunning demo` (the `make demo` command) no file of the data directory is readable by
another OS user; an older, readable data directory is tightened; a refused upload leaves nothing behind."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from dunning.config import Settings
from dunning.services.context import build_context


def _loose(root: Path) -> list[str]:
    out = []
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            out.append(f"{p.relative_to(root)}: {mode:o}")
    return out


def test_a_fresh_demo_leaves_an_owner_only_data_directory(tmp_path: Path) -> None:
    data = tmp_path / ".dunning"
    env = {**os.environ, "DUNNING_DATA_DIR": str(data), "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml")}
    env.pop("DUNNING_DATABASE_URL", None)
    old = os.umask(0o022)  # a usual login umask: the program itself must narrow it
    try:
        r = subprocess.run([sys.executable, "-m", "dunning.entrypoints.cli.app", "demo", "--accounts", "300",
                            "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (data / "dunning.db").exists() and list((data / "reports").iterdir())
    assert _loose(data) == []


def test_an_old_readable_data_directory_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "d"
    (data / "reports").mkdir(parents=True)
    (data / "reports" / "old.csv").write_text("x")
    for p, mode in ((data, 0o755), (data / "reports", 0o755), (data / "reports" / "old.csv", 0o644)):
        p.chmod(mode)
    build_context(Settings(data_dir=data, secret_key="k"))  # type: ignore[arg-type]
    assert _loose(data) == []


def test_uploads_are_owner_only_and_a_refused_one_leaves_nothing(tmp_path: Path, monkeypatch: object) -> None:
    import io

    import pytest
    from fastapi import UploadFile

    from dunning.entrypoints.http import uploads
    from dunning.errors import InputError

    ctx = build_context(Settings(data_dir=tmp_path / "d", secret_key="k"))  # type: ignore[arg-type]
    [kept] = uploads.save_uploads(ctx, [UploadFile(io.BytesIO(b"a,b\n1,2\n"), filename="ok.csv")], allowed=(".csv",))
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 3 << 20)  # type: ignore[attr-defined]
    read: list[int] = []

    class Endless(io.RawIOBase):  # a body far larger than the limit: reading must stop at the limit
        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray) -> int:  # type: ignore[override]
            read.append(len(b))
            b[:] = b"x" * len(b)
            return len(b)

    with pytest.raises(InputError):
        uploads.save_uploads(ctx, [UploadFile(io.BufferedReader(Endless()), filename="big.csv")], allowed=(".csv",))
    assert sum(read) <= (5 << 20)
    assert [p.name for p in (ctx.data_dir / "uploads").iterdir()] == [kept.parent.name]
