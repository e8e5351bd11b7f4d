"""Run Debian's Kannel (bearerbox + smsbox) in front of the SMPP test peer, with a generated kannel.conf.

* bearerbox binds to the SMPP peer as a transceiver and keeps DLRs in its internal store;
* smsbox serves ``/cgi-bin/sendsms`` for user ``dunning``/``kannel-pw`` with concatenation on, a black list
  (``^\\+?86170``: numbers Kannel itself refuses, for per-message rejections) and the ``dunning_ref`` TLV
  (0x1501) mapped from ``meta-data`` so the SMPP peer's log shows our idempotency key;
* MO messages go to ``mo_url`` (the test's webhook sink) through a catch-all ``sms-service``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers import PeerError, PeerMissing

USERNAME = "dunning"
PASSWORD = "kannel-pw"
SENDER = "1069012345"
BLACKLIST_PHONE = "+8617000000000"


class KannelUnavailable(PeerError):
    """bearerbox/smsbox did not come up."""


class KannelNotInstalled(KannelUnavailable, PeerMissing):
    """bearerbox/smsbox are not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class KannelPeer:
    sendsms_port: int
    admin_port: int
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}"

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.workdir.glob("*.log")))


def _config(workdir: Path, smpp_port: int, smpp_user: str, smpp_password: str, mo_url: str,
            admin_port: int, box_port: int, sendsms_port: int) -> str:
    return f"""
group = core
admin-port = {admin_port}
admin-password = kannel-admin
admin-interface = 127.0.0.1
admin-allow-ip = 127.0.0.1
smsbox-port = {box_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{workdir}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = peer
host = 127.0.0.1
port = {smpp_port}
transceiver-mode = true
smsc-username = {smpp_user}
smsc-password = {smpp_password}
system-type = ""
msg-id-type = 0x00
enquire-link-interval = 30
reconnect-delay = 1
source-addr-ton = 0
source-addr-npi = 1
dest-addr-ton = 1
dest-addr-npi = 1

group = smpp-tlv
name = dunning_ref
tag = 0x1501
type = nulterminated
length = 64
smsc-id = peer

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{workdir}/smsbox.log"
log-level = 1
mo-recode = true

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
concatenation = true
max-messages = 10
black-list-regex = "^\\+?86170"

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "{mo_url}&from=%p&to=%P&text=%a&coding=%c"
"""


def start_kannel(workdir: Path, smpp_port: int, mo_url: str, *, smpp_user: str = "dunning",
                 smpp_password: str = "secret", timeout: float = 30.0) -> KannelPeer:
    """Generate kannel.conf in ``workdir``, start bearerbox then smsbox, wait until sendsms answers."""
    bearerbox, smsbox = shutil.which("bearerbox") or "/usr/sbin/bearerbox", shutil.which("smsbox") or "/usr/sbin/smsbox"
    if not (Path(bearerbox).exists() and Path(smsbox).exists()):
        raise KannelNotInstalled("Kannel not installed: run scripts/install-peers.sh (apt-get install kannel)")
    workdir.mkdir(parents=True, exist_ok=True)
    admin, box, sendsms = free_port(), free_port(), free_port()
    conf = workdir / "kannel.conf"
    conf.write_text(_config(workdir, smpp_port, smpp_user, smpp_password, mo_url, admin, box, sendsms))
    peer = KannelPeer(sendsms, admin, workdir)
    out = (workdir / "stdout.txt").open("ab")
    peer.processes.append(subprocess.Popen([bearerbox, str(conf)], stdout=out, stderr=subprocess.STDOUT,
                                           cwd=workdir))
    _wait_port(box, timeout, peer)
    peer.processes.append(subprocess.Popen([smsbox, str(conf)], stdout=out, stderr=subprocess.STDOUT, cwd=workdir))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{peer.base_url}/cgi-bin/sendsms", timeout=2).read()
        except urllib.error.HTTPError:
            break  # any HTTP answer means smsbox is serving
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
            continue
        break
    else:
        peer.stop()
        raise KannelUnavailable("smsbox did not answer:\n" + peer.logs())
    _wait_smsc_online(peer, timeout)
    return peer


def _wait_port(port: int, timeout: float, peer: KannelPeer) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if any(p.poll() is not None for p in peer.processes):
            break
        time.sleep(0.1)
    peer.stop()
    raise KannelUnavailable("bearerbox did not start:\n" + peer.logs())


def _wait_smsc_online(peer: KannelPeer, timeout: float) -> None:
    """bearerbox's status page says the SMPP link is online (so a first send is not queued)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{peer.admin_port}/status.txt?password=kannel-admin"
    while time.monotonic() < deadline:
        try:
            text = urllib.request.urlopen(url, timeout=2).read().decode(errors="replace")
            if "online" in text and "peer" in text:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    peer.stop()
    raise KannelUnavailable("Kannel's SMPP link did not come online:\n" + peer.logs())
