"""`dunning channels list|test` against real peers, through Typer's runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunning.config import get_settings
from dunning.entrypoints.cli.channels import app
from tests.peers.smpp_peer import SmppPeer


@pytest.fixture
def settings_file(tmp_path: Path, smpp_peer: SmppPeer) -> Iterator[Path]:
    path = tmp_path / "dunning.toml"
    path.write_text(f"""
default_channel = "carrier"

[channels.carrier]
kind = "smpp"
rate = 300
priority = 10
fallback = "backup"
[channels.carrier.options]
host = "127.0.0.1"
port = {smpp_peer.port}
system_id = "{smpp_peer.system_id}"
source_addr = "1069012345"

[channels.backup]
kind = "sandbox"
rate = 50
priority = 20

[channels.wrongpw]
kind = "smpp"
[channels.wrongpw.options]
port = {smpp_peer.port}
system_id = "{smpp_peer.system_id}"
""", encoding="utf-8")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def invoke(settings_file: Path, *args: str, password: str | None = "secret") -> tuple[int, str]:
    env = {"DUNNING_SETTINGS_FILE": str(settings_file)}
    if password is not None:
        env["DUNNING_CHANNELS__CARRIER__SECRETS__PASSWORD"] = password
        env["DUNNING_CHANNELS__WRONGPW__SECRETS__PASSWORD"] = "not-the-password"
    get_settings.cache_clear()
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_list_json_shows_kind_rate_priority_fallback_and_capabilities(settings_file: Path) -> None:
    code, out = invoke(settings_file, "list", "--json")
    assert code == 0, out
    data = json.loads(out)
    rows = {r["name"]: r for r in data["channels"]}
    assert data["default"] == "carrier"
    assert rows["carrier"]["kind"] == "smpp" and rows["carrier"]["rate"] == 300
    assert rows["carrier"]["fallback"] == "backup" and rows["carrier"]["priority"] == 10
    assert rows["carrier"]["capabilities"]["delivery_reports"] is True
    assert rows["carrier"]["capabilities"]["free_text"] is True
    # the unit the carrier counts: PDUs for SMPP, messages for the sandbox
    assert rows["carrier"]["rate_unit"] == "parts" and rows["backup"]["rate_unit"] == "messages"
    assert [r["name"] for r in data["channels"]][0] == "carrier"  # by priority


def test_list_table_is_chinese(settings_file: Path) -> None:
    code, out = invoke(settings_file, "list")
    assert code == 0, out
    assert "短信通道" in out and "carrier" in out and "backup" in out


def test_test_binds_and_sends_nothing(settings_file: Path, smpp_peer: SmppPeer) -> None:
    before = len(smpp_peer.entries())
    binds = smpp_peer.stats()["binds"]
    code, out = invoke(settings_file, "test", "carrier")
    assert code == 0, out
    assert "连通正常" in out and "未发送" in out
    assert smpp_peer.stats()["binds"] == binds + 1
    assert len(smpp_peer.entries()) == before


def test_test_reports_a_rejected_bind_in_chinese(settings_file: Path) -> None:
    code, out = invoke(settings_file, "test", "wrongpw")
    assert code == 2
    assert "检测失败" in out and "密码" in out


def test_test_unknown_channel_lists_the_configured_ones(settings_file: Path) -> None:
    code, out = invoke(settings_file, "test", "nope", "--json")
    assert code == 2
    err = json.loads(out)["error"]
    assert err["code"] == "config.invalid" and "carrier" in err["message_zh"]
