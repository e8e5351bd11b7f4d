"""`dunning serve` behind a reverse proxy: the public verification limit counts the real visitor (from
X-Forwarded-For) when the request comes from a trusted proxy, and ignores the header from anyone else — otherwise
every visitor behind the proxy would share one allowance, or anyone could dodge the limit by forging the header."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(tmp_path: Path, *args: str) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ)
    env.update({"DUNNING_DATA_DIR": str(tmp_path / "data"), "DUNNING_SECRET_KEY": "proxy-test-secret",
                "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml"), "DUNNING_VERIFY_MAX_PER_IP": "3",
                "DUNNING_VERIFY_MAX_PER_PHONE": "100"})
    env.pop("DUNNING_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "dunning.entrypoints.cli.app", "serve", "--port", str(port),
                             "--log-level", "warning", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "server exited"
            assert time.monotonic() < deadline, "dunning serve did not start"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ask(base: str, visitor: str, n: int) -> str:
    r = httpx.post(f"{base}/api/v1/verify", json={"phone": f"1380013{n:04d}", "code": "ZZZZZZ"},
                   headers={"X-Forwarded-For": visitor}, timeout=10)
    return str(r.json()["result"])


def test_trusted_proxy_limits_each_visitor_on_their_own(tmp_path: Path) -> None:
    with _serve(tmp_path) as base:  # the proxy is on this host: 127.0.0.1 is trusted by default
        assert [_ask(base, "203.0.113.5", n) for n in range(4)] == ["not_found"] * 3 + ["rate_limited"]
        assert _ask(base, "198.51.100.7", 9) == "not_found"  # another visitor has their own allowance


def test_header_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    with _serve(tmp_path, "--forwarded-allow-ips", "10.9.9.9") as base:
        assert [_ask(base, "203.0.113.5", n) for n in range(3)] == ["not_found"] * 3
        assert _ask(base, "198.51.100.7", 9) == "rate_limited"  # a forged header does not reset the limit
