"""[[witnesses]] and [witnessing] in config.toml, and a witness's witness.toml: what is taken
and what stops the start, with a one-line reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.record.checkpoint import Signer
from gateway.witness import Cosigner, ServerSettings
from tests.conftest import load_config


def vkey(name: str = "a.invalid/w") -> str:
    return Cosigner.generate(name).public().vkey()


def witnesses(*entries: dict[str, Any], **table: Any) -> Any:  # noqa: ANN401
    def change(raw: dict[str, Any]) -> None:
        raw["witnesses"] = list(entries)
        if table:
            raw["witnessing"] = table
    return change


def entry(name: str = "auditor", **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"name": name, "url": "https://witness.example", "public_key": vkey(name + ".invalid/w"),
            **extra}


@pytest.mark.usefixtures("carrier_env")
class TestGatewayConfig:
    def test_no_witnesses_no_witnessing(self, tmp_path: Path) -> None:
        assert load_config(tmp_path, {}).witnessing is None

    def test_k_of_n(self, tmp_path: Path) -> None:
        config: Config = load_config(tmp_path, {}, witnesses(entry("a"), entry("b"), quorum=2))
        assert config.witnessing is not None
        assert [w.name for w in config.witnessing.submit_to] == ["a", "b"]
        assert config.witnessing.policy.describe() == "2 of a, b"

    def test_a_tlog_policy_file(self, tmp_path: Path) -> None:
        a = entry("a")
        (tmp_path / "policy").write_text(f"witness a {a['public_key']}\nquorum a\n")
        config = load_config(tmp_path, {}, witnesses(a, policy="policy"))
        assert config.witnessing is not None
        assert config.witnessing.submit_to[0].url == "https://witness.example"

    @pytest.mark.parametrize(("change", "reason"), [
        (witnesses(entry(), quorum=2), "quorum of 2"),
        (witnesses(entry()), "quorum"),
        (witnesses(entry(), quorum=1, retries=3), "unknown key"),
        (witnesses(entry(url="ftp://x"), quorum=1), "url"),
        (witnesses(entry(public_key="nope"), quorum=1), "witness key"),
        (witnesses(entry("a"), entry("a"), quorum=1), "share a name"),
    ])
    def test_refused(self, tmp_path: Path, change: Any, reason: str) -> None:  # noqa: ANN401
        with pytest.raises(ConfigError, match=reason):
            load_config(tmp_path, {}, change)


class TestWitnessSettings:
    def test_read(self, tmp_path: Path) -> None:
        cosigner = Cosigner.generate("w.invalid/w")
        (tmp_path / "w.key").write_text(cosigner.key_string())
        _, log_key = Signer.generate("log.invalid/r")
        (tmp_path / "witness.toml").write_text(
            f'[witness]\nkey = "w.key"\nport = 7000\n'
            f'[[logs]]\norigin = "log.invalid/r"\npublic_key = "{log_key}"\n')
        settings = ServerSettings.from_toml(tmp_path / "witness.toml")
        assert settings.cosigner.public() == cosigner.public()
        assert settings.port == 7000
        assert list(settings.logs) == ["log.invalid/r"]

    def test_no_logs(self, tmp_path: Path) -> None:
        (tmp_path / "w.key").write_text(Cosigner.generate("w.invalid/w").key_string())
        (tmp_path / "witness.toml").write_text('[witness]\nkey = "w.key"\n')
        with pytest.raises(ConfigError, match="logs"):
            ServerSettings.from_toml(tmp_path / "witness.toml")
