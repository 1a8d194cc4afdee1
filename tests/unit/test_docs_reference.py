"""The docs site's generated references cover the code: every command and option of the
parser, every table and key of the sample config.toml and every table the loaders check, every
operation of the OpenAPI document."""

from __future__ import annotations

import argparse
import importlib.util
import re
import tomllib
from types import ModuleType
from typing import Any

import pytest

from gateway.cli import parser
from gateway.http.openapi.document import document
from gateway.sample import sample_config
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gateway_reference", ROOT / "docs/_ext/gateway_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [p]
    for action in p._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                out += _parsers(sub)
    return out


def test_the_cli_reference_names_every_command_and_option(generator: ModuleType) -> None:
    page = generator.cli_reference()
    headings = set(re.findall(r"^#+ (gateway.*)$", page, re.MULTILINE))
    for p in _parsers(parser()):
        assert p.prog in headings
        for action in p._actions:  # noqa: SLF001
            if action.help != argparse.SUPPRESS and not isinstance(
                    action, argparse._HelpAction):  # noqa: SLF001
                for option in action.option_strings:
                    assert f"`{option}" in page or f", {option}" in page, (p.prog, option)
    assert "gateway init" in headings
    assert "gateway log show" in headings


def _sample_tables() -> dict[str, set[str]]:
    """Each table header of the sample (``carriers.posti``) -> the keys it sets itself (not
    those of its sub-tables with headers of their own), read with tomllib."""
    text = sample_config()
    raw = tomllib.loads(text)
    headers = set(re.findall(r"^\[\[?([a-z0-9_.]+)\]\]?", text, re.MULTILINE))
    out = {}
    for header in headers:
        node: Any = raw
        for part in header.split("."):
            node = node[part]
        items = node if isinstance(node, list) else [node]
        out[header] = {k for item in items for k in item if f"{header}.{k}" not in headers}
    return out


def test_the_config_reference_names_every_key_of_the_sample(generator: ModuleType) -> None:
    page = generator.config_reference(sample_config())
    sections = {s.split("`")[1].strip("[]"): s for s in re.split(r"^### ", page,
                                                                  flags=re.MULTILINE)[1:]}
    tables = _sample_tables()
    assert len(tables) > 30
    for table, keys in tables.items():
        found = [s for pattern, s in sections.items()
                 if generator._matches(pattern, table)]  # noqa: SLF001
        assert found, table
        listed = found[0].split("\n\n")[1]
        for key in keys:
            assert f"`{key}`" in listed, (table, key)


def test_the_config_reference_reads_the_loaders_checks(generator: ModuleType) -> None:
    accepted = generator.accepted_keys()
    # Tables the sample leaves out are documented from the code all the same.
    assert {"url", "schema", "recover_after"} <= accepted["[record]"]
    assert {"tls_cert", "tls_key", "previous_checkpoint_keys"} <= accepted["[gateway]"]
    assert {"host", "port", "from", "starttls"} <= accepted["[smtp]"]
    assert {"quorum", "policy", "timeout"} <= accepted["[witnessing]"]
    assert {"allow", "require", "addons"} <= accepted["[policy.CARRIER.SERVICE]"]
    page = generator.config_reference(sample_config())
    for table in ("[record]", "[smtp]", "[[witnesses]]", "[sender]", "[carriers.NAME]"):
        assert f"### `{table}`" in page
    assert "`token_url`" in page  # Posti's OAuth option, declared by its adapter


def test_the_http_reference_names_every_operation(generator: ModuleType) -> None:
    doc = document()
    page = generator.http_reference(doc)
    for path, operations in doc["paths"].items():
        for method in operations:
            assert f"\n## {method.upper()} {path}\n" in page
