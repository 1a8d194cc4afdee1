"""Secrets in config.toml: never written there, only referenced (``{ env = "NAME" }`` or
``{ file = "path" }``, a path relative to the config file) and read when a command needs them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from gateway.errors import ConfigError

__all__ = ["Secret", "SecretRef", "read_secret"]


@attrs.frozen(repr=False)
class Secret:
    """A secret value and where it came from (the source is safe to print, the value is not)."""

    value: str
    source: str

    def __repr__(self) -> str:
        return f"Secret({self.source})"


@attrs.frozen
class SecretRef:
    """Where a secret is to be read (``{ env = "NAME" }`` or ``{ file = "path" }``), read only
    when a command needs it: carrier credentials are read by ``serve`` and ``demo``, so
    commands that reach no carrier run without them."""

    where: str
    env: str | None = None
    file: Path | None = None

    @classmethod
    def parse(cls, ref: object, where: str, base: Path) -> SecretRef:
        if isinstance(ref, str):
            raise ConfigError(
                f"{where}: secrets are not written in config.toml; "
                'use { env = "NAME" } or { file = "path" }'
            )
        if not isinstance(ref, Mapping) or len(ref) != 1 or not ({"env", "file"} & ref.keys()):
            raise ConfigError(f'{where}: expected {{ env = "NAME" }} or {{ file = "path" }}')
        if "env" in ref:
            return cls(where=where, env=str(ref["env"]))
        return cls(where=where, file=base / str(ref["file"]))

    @property
    def label(self) -> str:
        """The variable's name, or ``file PATH``: what the operator is to provide."""
        return self.env if self.env is not None else f"file {self.file}"

    def resolve(self) -> Secret:
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"{self.where}: environment variable {self.env} is not set")
            return Secret(value.strip(), f"env:{self.env}")
        assert self.file is not None
        try:
            return Secret(self.file.read_text(encoding="utf-8").strip(), f"file:{self.file}")
        except OSError as exc:
            raise ConfigError(f"{self.where}: cannot read secret file {self.file} "
                              f"({exc.strerror})") from None


def read_secret(ref: object, where: str, base: Path) -> Secret:
    """The secret ``ref`` names, read now."""
    return SecretRef.parse(ref, where, base).resolve()
