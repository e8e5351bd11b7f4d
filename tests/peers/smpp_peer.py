"""Start and drive the SMPP test peer (``tests/peers/smpp/server.js``, npm ``smpp`` 0.5.x as an SMSC).

Usable from pytest fixtures and from plain scripts (benchmarks, the crash test). The peer logs every submit_sm
as a JSON line; :meth:`SmppPeer.accepted_refs` counts accepted first parts per idempotency key.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import PeerError, PeerMissing

PEER_DIR = Path(__file__).resolve().parent / "smpp"


class PeerUnavailable(PeerError):
    """The SMPP peer could not be started."""


class PeerNotInstalled(PeerUnavailable, PeerMissing):
    """Node or the peer's npm packages are missing: run scripts/install-peers.sh."""


@dataclass
class SmppPeer:
    process: subprocess.Popen[bytes]
    port: int
    control: int
    log: Path
    system_id: str = "dunning"
    password: str = "secret"
    args: tuple[str, ...] = ()  # the command line, for restart()
    _acked: dict[str, list[Any]] = field(default_factory=lambda: {"receipts": [], "mo": []})

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", data=data,
                                     method="POST" if body is not None else "GET",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("/stats")
        return result

    def flush(self) -> None:
        self._call("/flush", {})

    def throttle(self, count: int, status: str = "throttled", after: int = 0) -> None:
        """After ``after`` more submits, the next ``count`` are answered ESME_RTHROTTLED (or ESME_RMSGQFUL)."""
        self._call("/throttle", {"status": status, "count": count, "after": after})

    def mute(self, count: int) -> None:
        """The next ``count`` submit_sm are logged with status -1 and never answered."""
        self._call("/mute", {"count": count})

    def variant(self, name: str) -> None:
        """Receipt shape for later submits: standard, text_only, minimal, undecodable."""
        self._call("/variant", {"variant": name})

    def send_mo(self, phone: str, text: str, to: str = "1069012345") -> None:
        self._call("/mo", {"from": phone, "to": to, "text": text})

    def drop(self) -> None:
        """Close every SMPP session abruptly."""
        self._call("/drop", {})

    def entries(self) -> list[dict[str, Any]]:
        """Every submit_sm the peer logged, in order."""
        self.flush()
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def accepted_refs(self) -> Counter[str]:
        """How many times each idempotency key was accepted (first parts only)."""
        return Counter(e["ref"] for e in self.entries() if e["status"] == 0 and e.get("part", 1) == 1)

    def rate(self, per_second: int) -> None:
        """Standard throttling: more than ``per_second`` accepted submits in any second get ESME_RTHROTTLED."""
        self._call("/rate", {"per_second": per_second})

    def mute_queries(self, on: bool = True) -> None:
        """query_sm are read and never answered (an SMSC that hangs on queries)."""
        self._call("/mute_queries", {"on": on})

    def acked(self) -> dict[str, Any]:
        """What the ESME acknowledged, over every incarnation of the peer: ``receipts`` (message ids) and ``mo``
        ({from, text, parts})."""
        now = self._call("/acked")
        return {"receipts": [*self._acked["receipts"], *now["receipts"]], "mo": [*self._acked["mo"], *now["mo"]]}

    def restart(self, *, kill: bool = True, timeout: float = 20.0) -> None:
        """Kill (SIGKILL by default) and start the peer again on the same ports; its memory is lost, as an
        SMSC restarted without a persistent store (ids are never reused: they start from the clock)."""
        if self.process.poll() is None:
            self._call("/freeze", {})  # stop reading, flush the log: what this SMSC accepted stays on record
            before = self._call("/acked")
            self._acked["receipts"].extend(before["receipts"])
            self._acked["mo"].extend(before["mo"])
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait()
        args = [*self.args, "--port", str(self.port), "--control-port", str(self.control)]
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.process = _spawn(args, timeout)
                return
            except PeerUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # the old sockets may take a moment to be released

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(args: list[str], timeout: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    if not line or time.monotonic() > deadline:
        proc.kill()
        proc.wait()
        raise PeerUnavailable("SMPP peer did not start")
    proc.ports = json.loads(line)  # type: ignore[attr-defined]
    return proc


def start_peer(log: Path, *, dlr_delay_ms: int = 20, system_id: str = "dunning", password: str = "secret",
               variant: str = "standard", mode: str = "standard", max_rate: int = 0,
               timeout: float = 20.0) -> SmppPeer:
    """Start the peer on free 127.0.0.1 ports; returns once it announced them.

    ``mode = "standard"`` (the default) behaves as a carrier SMSC may: no lookup by our reference, query_sm by
    message id only, redelivery of unacknowledged receipts and replies; ``"vendor"`` adds the by-reference lookup.
    """
    if shutil.which("node") is None or not (PEER_DIR / "node_modules" / "smpp").exists():
        raise PeerNotInstalled("SMPP peer not installed: run scripts/install-peers.sh (needs node and npm)")
    args = ["node", str(PEER_DIR / "server.js"), "--log", str(log), "--dlr-delay-ms", str(dlr_delay_ms),
            "--system-id", system_id, "--password", password, "--variant", variant, "--mode", mode,
            "--max-rate", str(max_rate)]
    proc = _spawn(args, timeout)
    ports = proc.ports  # type: ignore[attr-defined]
    return SmppPeer(proc, int(ports["smpp"]), int(ports["control"]), log, system_id, password, tuple(args))
