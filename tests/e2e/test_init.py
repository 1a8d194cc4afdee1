"""`gateway init DIR`: a starting deployment (the sample config.toml and its secrets) that
loads, a refusal to overwrite without --force, and what it tells the operator to do next."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gateway.config import Config
from gateway.keygen import FILES
from gateway.sample import sample_config
from tests.cli import Cli, Ran, run
from tests.conftest import ROOT


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "unused.toml")


def test_the_bundled_sample_is_the_repository_config() -> None:
    """The wheel's sample (what `demo` runs on outside a checkout and `init` writes) is the
    repository's config.toml, so the two cannot drift apart."""
    assert sample_config() == (ROOT / "config.toml").read_text(encoding="utf-8")


def test_init_writes_a_config_that_loads_with_its_secrets(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "deploy"
    out = cli.ok("init", str(target), "--origin", "example.com/disclosure-record")

    config = Config.from_toml(target / "config.toml")
    assert config.origin == "example.com/disclosure-record"
    assert config.verifiers()[0].name == "example.com/disclosure-record"
    secrets = target / "var/secrets"
    assert sorted(p.name for p in secrets.iterdir()) == sorted(FILES)
    assert stat.S_IMODE((secrets / "record-kek").stat().st_mode) == 0o600
    assert f"wrote {target / 'config.toml'}" in out
    for name in FILES:
        assert f"wrote {secrets / name}" in out
    assert "POSTI_API_KEY" in out  # the credentials to set
    assert f"cd {target} && gateway demo" in out
    assert f"gateway --config {target / 'config.toml'} serve" in out


def test_init_refuses_to_overwrite_unless_forced(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "deploy"
    cli.ok("init", str(target))
    key = (target / "var/secrets/checkpoint.key").read_text()
    (target / "config.toml").write_text("# edited\n")

    ran = cli("init", str(target))
    assert ran.returncode != 0
    assert ran.stdout == ""
    assert "config.toml" in ran.line
    assert "checkpoint.key" in ran.line
    assert "--force" in ran.line
    assert (target / "config.toml").read_text() == "# edited\n"
    assert (target / "var/secrets/checkpoint.key").read_text() == key

    cli.ok("init", str(target), "--force")
    assert (target / "config.toml").read_text() == sample_config()
    assert (target / "var/secrets/checkpoint.key").read_text() != key
    Config.from_toml(target / "config.toml")


def test_init_refuses_an_origin_that_would_break_the_config(cli: Cli, tmp_path: Path) -> None:
    ran = cli("init", str(tmp_path / "deploy"), "--origin", 'a"b')
    assert ran.returncode != 0
    assert ran.line.startswith("gateway: --origin:")
    assert not (tmp_path / "deploy").exists()


def _demo(*argv: str) -> Ran:
    """`gateway [ARGV] demo --dir var/demo` in this process, in the current directory."""
    return run(*argv, "demo", "--dir", "var/demo")


@pytest.mark.parametrize("named", ["config.toml", "./config.toml", "elsewhere.toml"])
def test_demo_refuses_a_named_config_that_is_not_there(
        named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A --config the user named is what the demo runs on: missing, it is one line and exit 1,
    before anything is written (no sample, no secrets, no demo directory)."""
    monkeypatch.chdir(tmp_path)
    ran = _demo("--config", named)
    assert ran.returncode == 1
    assert ran.stdout == ""
    assert ran.line.startswith(f"gateway: cannot read {named.removeprefix('./')}: no such file")
    assert list(tmp_path.iterdir()) == []


def test_demo_without_config_runs_on_the_bundled_sample(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --config and no ./config.toml (an installed gateway run anywhere): the sample bundled
    with the package, copied beside the demo's record."""
    monkeypatch.chdir(tmp_path)
    ran = _demo()
    assert ran.returncode == 0, ran.stderr
    assert "running on the bundled sample configuration (var/demo/config.toml)" in ran.stdout
    assert "verify: OK" in ran.stdout
    assert (tmp_path / "var/demo/config.toml").read_text() == sample_config()
    assert not (tmp_path / "config.toml").exists()


def test_init_into_a_file_or_a_name_with_control_characters_is_one_line(
        cli: Cli, tmp_path: Path) -> None:
    """A DIR that is a file, or that holds an escape sequence, is refused in one line (no
    traceback, nothing written, no raw control character on the terminal)."""
    taken = tmp_path / "taken"
    taken.write_text("")
    ran = cli("init", str(taken))
    assert ran.returncode == 1
    assert ran.line == f"gateway: cannot write into {taken}: File exists"
    hostile = tmp_path / "deploy\x1b[2J"
    ran = cli("init", str(hostile))
    assert ran.returncode == 1
    assert ran.line.startswith("gateway: DIR holds a control or format character")
    assert "\x1b" not in ran.stderr + ran.stdout
    assert not hostile.exists()
