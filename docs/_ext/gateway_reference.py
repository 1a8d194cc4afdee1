"""The docs site's generated references, written at every build from the code itself so they
cannot drift from it:

- ``reference/cli.md`` walks the ``gateway`` argument parser (``gateway.cli.parser``);
- ``reference/http-api.md`` renders the OpenAPI document the gateway serves
  (``gateway.http.openapi.document``), also published whole as ``openapi.json``;
- ``reference/config.md`` lists, per table of config.toml, the keys the loaders accept (read from
  their ``_only``/``unknown key`` checks in the source) beside the sample config.toml's table.

As a Sphinx extension it writes them when the build starts; ``python docs/_ext/gateway_reference.py
DIR`` writes them into DIR.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from carriers import ADAPTERS
from gateway.cli import parser
from gateway.http.openapi.document import document
from gateway.sample import sample_config

#: The modules that read config.toml's tables, each checking its keys.
CONFIG_MODULES = (
    "gateway.config.tree", "gateway.config._tables",
    "gateway.policy.config", "gateway.review.settings",
    "gateway.erasure.channels", "gateway.authority.settings", "gateway.witness.settings",
)
#: Tables whose name reaches the check as a parameter: the table the caller names.
WHERE_BY_FUNCTION = {
    "_rule": "[policy.CARRIER.SERVICE]",
    "_addon": "[policy.CARRIER.SERVICE.addons.NAME]",
}
#: Tables of the standalone witness's own file (``gateway witness serve``), not config.toml.
WITNESS_FILE_TABLES = ("[witness]", "[[logs]]")


# --- CLI ----------------------------------------------------------------------------------

def _commands(parser: argparse.ArgumentParser,
              path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser,
                                                      str]]:
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its actions here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}  # noqa: SLF001
            for name, sub in action.choices.items():
                yield (*path, name), sub, helps.get(name, "")
                yield from _commands(sub, (*path, name))


def command_paths() -> list[str]:
    """Every command, e.g. ``gateway log show``."""
    return [" ".join(("gateway", *path)) for path, _, _ in _commands(parser(), ())]


def _text(value: str) -> str:
    """Plain text safe inside Markdown (no emphasis, HTML or link syntax)."""
    return re.sub(r"([\\*_<>\[\]|])", r"\\\1", " ".join(value.split()))


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%(" in text:
        text %= {**vars(action), "prog": prog}
    return text


#: Usage lines wrapped at this width, whatever the terminal building the docs.
USAGE_WIDTH = 88


def _usage(p: argparse.ArgumentParser) -> str:
    return argparse.HelpFormatter(p.prog, width=USAGE_WIDTH)._format_usage(  # noqa: SLF001
        p.usage, p._actions, p._mutually_exclusive_groups, "usage: ").strip()  # noqa: SLF001


def cli_reference() -> str:
    top = parser()
    out = ["# Command line", "",
           "Generated from the `gateway` argument parser. Every command also answers `--help`.",
           "", "## gateway", "", _text(top.description or ""), "", "```text",
           _usage(top), "```", ""]
    out += _options(top)
    for path, sub, summary in _commands(top, ()):
        name = " ".join(("gateway", *path))
        out += [f"{'#' * min(len(path) + 1, 4)} {name}", ""]
        about = sub.description or summary
        if about:
            out += [_text(about), ""]
        out += ["```text", _usage(sub), "```", ""]
        out += _options(sub)
    return "\n".join(out) + "\n"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    lines = []
    for action in parser._actions:  # noqa: SLF001
        if (isinstance(action, argparse._SubParsersAction | argparse._HelpAction)  # noqa: SLF001
                or action.help == argparse.SUPPRESS):
            continue
        if action.option_strings:
            shown = ", ".join(action.option_strings)
            if action.nargs != 0:
                shown += f" {action.metavar or action.dest.upper()}"
        else:
            shown = str(action.metavar or action.dest)
        if action.choices and not action.option_strings:
            shown += f" ({{{','.join(map(str, action.choices))}}})"
        text = _text(_help(action, parser.prog))
        default = action.default
        if (action.option_strings and default not in (None, False, argparse.SUPPRESS)
                and "default" not in text):
            text += f" (default: `{default}`)"
        lines.append(f"- `{shown}`: {text}".rstrip(": "))
    return [*lines, ""] if lines else []


# --- HTTP ---------------------------------------------------------------------------------

def http_reference(document: dict[str, Any]) -> str:
    intro = ("Generated from the OpenAPI document the gateway serves at `/openapi.json` (the "
             "same document is published beside these pages as `openapi.json`). Errors are "
             "RFC 9457 `application/problem+json`.")
    out = ["# HTTP API", "", intro, ""]
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            out += [f"## {method.upper()} {path}", ""]
            if op.get("summary"):
                out += [_text(op["summary"]), ""]
            if op.get("description"):
                out += [_text(op["description"]), ""]
            params = op.get("parameters", [])
            if params:
                out += ["Parameters:", ""]
                for p in params:
                    need = "required" if p.get("required") else "optional"
                    about = _text(p.get("description", ""))
                    out.append(f"- `{p['name']}` ({p['in']}, {need}) {about}".rstrip())
                out.append("")
            body = op.get("requestBody", {}).get("content", {})
            if body:
                out += [f"Request body: {_content(body)}", ""]
            out += ["Responses:", ""]
            for code, answer in op.get("responses", {}).items():
                types = _content(answer.get("content", {}))
                about = _text(answer.get("description", ""))
                out.append(f"- `{code}` {about}" + (f" ({types})" if types else ""))
            out.append("")
    return "\n".join(out) + "\n"


def _content(content: dict[str, Any]) -> str:
    """``application/json`` (schema ``Name``), one per media type."""
    out = []
    for media, spec in content.items():
        ref = spec.get("schema", {}).get("$ref", "")
        out.append(f"`{media}`" + (f" (schema `{ref.rsplit('/', 1)[-1]}`)" if ref else ""))
    return ", ".join(out)


# --- config.toml --------------------------------------------------------------------------

def _strings(node: ast.AST, names: dict[str, Any], module: Any) -> set[str] | None:  # noqa: ANN401
    """The key names a set expression in a loader holds, or None if it cannot be read."""
    if isinstance(node, ast.Set):
        out: set[str] = set()
        for item in node.elts:
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                out.add(item.value)
            elif isinstance(item, ast.Starred) and isinstance(item.value, ast.Attribute):
                owner = item.value.value
                if isinstance(owner, ast.Name) and hasattr(module, owner.id):
                    out |= set(getattr(getattr(module, owner.id), item.value.attr))
        return out
    if isinstance(node, ast.Name):
        if node.id in names:
            return _strings(names[node.id], names, module)
        value = getattr(module, node.id, None)
        return {str(v) for v in value} if isinstance(value, frozenset | set | tuple) else None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
            and node.func.id in ("set", "frozenset")):
        return _strings(node.args[0], names, module)
    return None


def _where(node: ast.AST | None, names: dict[str, Any]) -> str | None:
    if isinstance(node, ast.Name) and node.id in names:
        return _where(names[node.id], names)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
                parts.append(value.value.id.upper())
            else:
                return None
        return "".join(parts)
    return None


def accepted_keys() -> dict[str, set[str]]:
    """Table (``[record]``, ``[carriers.NAME]``...; ``config`` is the top level) -> the keys
    its loader accepts, read from the loaders' key checks."""
    tables: dict[str, set[str]] = {}
    for name in CONFIG_MODULES:
        module = importlib.import_module(name)
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef):
                continue
            names = {t.id: node.value for node in ast.walk(func) if isinstance(node, ast.Assign)
                     for t in node.targets if isinstance(t, ast.Name)}
            messages = [_where(n, names) or "" for n in ast.walk(func)
                        if isinstance(n, ast.JoinedStr | ast.Constant)]
            for node in ast.walk(func):
                keys = where = None
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in ("only", "_only")
                        and len(node.args) == 3):  # noqa: PLR2004
                    keys = _strings(node.args[1], names, module)
                    where = _where(node.args[2], names) or WHERE_BY_FUNCTION.get(func.name)
                elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub)
                      and isinstance(node.left, ast.Call)
                      and isinstance(node.left.func, ast.Name) and node.left.func.id == "set"):
                    keys = _strings(node.right, names, module)
                    where = next((m.split(":")[0].split(" must")[0] for m in messages
                                  if "unknown key" in m), None)
                if keys and where:
                    tables.setdefault(where, set()).update(keys)
    return tables


def _sample_tables(text: str) -> dict[str, str]:
    """The sample config.toml cut at its table headers: header -> its comments and lines."""
    sections: dict[str, str] = {}
    comments: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        header = re.fullmatch(r"(\[\[?[^\]]+\]\]?)\s*(#.*)?", line)
        if header:
            current = [*comments, line]
            comments = []
            previous = sections.get(header.group(1))
            text = "\n".join(current)
            sections[header.group(1)] = f"{previous}\n\n{text}" if previous else text
            continue
        if line.startswith("#") or not line.strip():
            comments.append(line)
            if not line.strip():
                comments = []
            continue
        if current is not None:
            key = list(sections)[-1]
            sections[key] += "\n" + line
    return sections


def _matches(pattern: str, header: str) -> bool:
    """``[carriers.NAME]`` matches ``[carriers.posti]``."""
    parts = re.split(r"([A-Z]+)", pattern)
    regex = "".join("[a-z0-9_]+" if p.isupper() and p else re.escape(p) for p in parts)
    return re.fullmatch(regex, header) is not None


def config_reference(sample: str) -> str:
    accepted = accepted_keys()
    sections = _sample_tables(sample)
    intro = ("Generated from the code: the keys each table accepts are read from the checks of "
             "the loaders (`gateway/config/` and the settings modules it calls), so a key "
             "added there appears here. Beside each table, the sample config.toml's (what "
             "`gateway init` writes; its comments explain the values). Secrets are never "
             'written in config.toml: each is `{ env = "NAME" }` or `{ file = "path" }`.')
    out = ["# config.toml", "", intro, ""]
    top = accepted.pop("config", set())
    out += ["## Top level", "", "Tables: " + ", ".join(f"`{k}`" for k in sorted(top)), ""]
    witness = {k: accepted.pop(k) for k in WITNESS_FILE_TABLES if k in accepted}
    # A carrier adapter's own settings (e.g. Posti's token_url), declared by the adapter.
    accepted.setdefault("[carriers.NAME]", set()).update(
        option for adapter in ADAPTERS.values() for option in getattr(adapter, "options", {}))
    for header, body in sections.items():  # tables whose keys the loader takes from a model
        if not any(_matches(table, header) for table in accepted):
            keys = {m.group(1) for m in re.finditer(r"^([a-z_]+) =", body, re.MULTILINE)}
            accepted[header] = keys
    order = list(sections)

    def place(table: str) -> tuple[int, str]:  # the sample's order, then the rest by name
        at = [i for i, header in enumerate(order) if _matches(table, header)]
        return (at[0] if at else len(order), table)

    for table in sorted(accepted, key=place):
        out += _table(table, accepted[table], sections)
    out += ["## The witness's own file", "",
            "`gateway witness serve --config witness.toml` reads these tables.", ""]
    for table in sorted(witness):
        out += _table(table, witness[table], {})
    return "\n".join(out) + "\n"


def _table(table: str, keys: set[str], sections: dict[str, str]) -> list[str]:
    out = [f"### `{table}`", "", "Keys: " + ", ".join(f"`{k}`" for k in sorted(keys)), ""]
    example = next((body for header, body in sections.items() if _matches(table, header)), None)
    if example:
        out += ["In the sample:", "", "```toml", example.strip("\n"), "```", ""]
    return out


# --- writing ------------------------------------------------------------------------------

def write(directory: Path, extra: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    extra.mkdir(parents=True, exist_ok=True)
    doc = document()
    pages = {"cli.md": cli_reference(), "config.md": config_reference(sample_config()),
             "http-api.md": http_reference(doc)}
    for name, text in pages.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    (extra / "openapi.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _generate(app: Any, _config: Any) -> None:  # noqa: ANN401 - Sphinx's application
    source = Path(app.srcdir)
    write(source / "reference", source / "_generated_extra")


def setup(app: Any) -> dict[str, Any]:  # noqa: ANN401
    # Before Sphinx checks html_extra_path and looks for the pages.
    app.connect("config-inited", _generate, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    write(Path(sys.argv[1]), Path(sys.argv[1]) / "_extra")
