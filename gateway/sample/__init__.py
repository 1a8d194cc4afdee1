"""The sample configuration shipped inside the package: what `gateway demo` runs on when there
is no ./config.toml, and what `gateway init` starts a deployment from. It is the repository's
config.toml, byte for byte."""

from __future__ import annotations

from importlib import resources


def sample_config() -> str:
    """The sample config.toml's text."""
    return resources.files(__name__).joinpath("config.toml").read_text(encoding="utf-8")
