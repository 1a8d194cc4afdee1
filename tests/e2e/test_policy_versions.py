"""Every policy version is in the record: a gateway records its policy before it takes hooks
(once per change, not per restart), each disclosure names the version it was checked against,
`gateway log verify` holds each disclosure's rule to that version, and `gateway policy history`
lists the versions and what changed between them. On SQLite and PostgreSQL, through the
gateway's HTTP door and the commands as an operator runs them."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.operations.policy_versions import PolicyVersion, document, record_policy
from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.wiring import build_record
from tests.cli import Ran, run
from tests.conftest import ROOT, load_config, order_event, run_gateway, write_config
from tests.e2e.test_verify_tamper import Target, _authority_disclosure, target_of
from tests.stores import PG_URL, Backend

pytestmark = pytest.mark.usefixtures("carrier_env")


def on_store(target: Target, *, email: bool = False, no_id_check: bool = False,
             ) -> Any:  # noqa: ANN401
    """A config change: the target's store, and a new policy version: with ``email`` Posti home
    delivery always lets the customer's e-mail out (not only as the notice they chose), with
    ``no_id_check`` it no longer offers the ID check."""

    def change(raw: dict[str, Any]) -> None:
        if target.store == "postgres":
            raw["record"].update({"store": "postgres", "url": PG_URL, "schema": target.schema})
        if email:
            raw["policy"]["posti"]["home_delivery"]["allow"].append("email")
        if no_id_check:
            del raw["policy"]["posti"]["home_delivery"]["addons"]["id_check"]

    return change


def cli(tmp_path: Path, target: Target, *args: str) -> Ran:
    """The gateway command with a config file for the target's record."""
    config = tmp_path / "config.toml"
    if not config.exists():
        text = write_config(tmp_path, {}).read_text()
        if target.store == "postgres":
            text = text.replace('store = "sqlite"', f'store = "postgres"\nurl = "{PG_URL}"\n'
                                                    f'schema = "{target.schema}"')
        config.write_text(text)
    return run("--config", str(config), *args, cwd=ROOT)


async def entries(target: Target) -> list[dict[str, Any]]:
    return [orjson.loads(body) for (body,) in
            await target.sql("SELECT body FROM entries ORDER BY seq")]


def rule_digests(version: dict[str, Any]) -> set[str]:
    """The digests of a recorded version's rules, each the SHA-256 of its canonical JSON."""
    return {hashlib.sha256(orjson.dumps(rule, option=orjson.OPT_SORT_KEYS)).hexdigest()
            for rule in version["data"]["document"]["rules"]}


async def hooks(target: Target, tmp_path: Path, n: int, *, authority: bool = False,
                **change: bool) -> None:
    async with run_gateway(tmp_path, on_store(target, **change)) as gateway:
        for _ in range(n):
            status, body, _ = await gateway.post(order_event("posti", "home_delivery"))
            assert status == 201, body
        if authority:
            await _authority_disclosure(gateway, tmp_path)


class TestVersions:
    async def test_each_disclosure_names_the_version_in_force(self, backend: Backend,
                                                              tmp_path: Path) -> None:
        """Started, restarted with the same policy, restarted with a changed one: the record
        holds two versions, every carrier and authority intent names the one in force before
        it and its rule is one of that version's, and verify says so."""
        target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")
        await hooks(target, tmp_path, 2)
        await hooks(target, tmp_path, 1)  # the same policy: nothing appended
        await hooks(target, tmp_path, 1, email=True, authority=True)
        docs = await entries(target)
        versions = [d for d in docs if d["kind"] == Kind.POLICY]
        assert [v["seq"] for v in versions] == [0, 7]  # after the first 3 hooks' 6 entries
        assert docs[0]["kind"] == Kind.POLICY
        intents = [d for d in docs if d["kind"] in (Kind.INTENT, Kind.AUTHORITY_INTENT)]
        assert len(intents) == 6
        for intent in intents:
            in_force = max(v["seq"] for v in versions if v["seq"] < intent["seq"])
            assert intent["data"]["policy_version"] == in_force
            if intent["kind"] == Kind.INTENT:
                assert intent["policy"] in rule_digests(docs[in_force])
        widened = [i for i in intents if "email" in i["fields"]]
        assert widened, "the changed policy let the e-mail out"
        assert all(i["data"]["policy_version"] == 7 for i in widened)
        assert rule_digests(docs[0]) != rule_digests(docs[7])
        done = cli(tmp_path, target, "log", "verify", "--quiet")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "; 2 policy versions" in done.stdout
        assert "predate" not in done.stdout

    async def test_history_lists_versions_and_what_changed(self, backend: Backend,
                                                           tmp_path: Path) -> None:
        """`gateway policy history` on the config's record lists the versions with their
        positions, times and hashes, and what changed between each and the one before."""
        target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")
        await hooks(target, tmp_path, 1)
        await hooks(target, tmp_path, 1, email=True)
        await hooks(target, tmp_path, 1, email=True, no_id_check=True)
        done = cli(tmp_path, target, "policy", "history")
        assert done.returncode == 0, done.stderr
        docs = await entries(target)
        first, second, third = (d for d in docs if d["kind"] == Kind.POLICY)
        lines = done.stdout.splitlines()
        assert lines[0] == (f"position 0  recorded {first['time']}  sha256 {first['policy']}  "
                            f"{len(first['data']['document']['rules'])} rules")
        assert lines[1] == "  the first recorded version"
        assert lines[2].startswith(f"position {second['seq']}  recorded {second['time']}  "
                                   f"sha256 {second['policy']}")
        # The e-mail could already leave as the chosen notice: the rule changed, not what
        # may leave.
        assert lines[3] == ("  posti/home_delivery: no field change  (the rule changed, not "
                            "what it lets out)")
        assert lines[4].startswith(f"position {third['seq']}  ")
        assert lines[5:] == ["  posti/home_delivery: -addon:id_check"]
        if target.path is not None:
            offline = cli(tmp_path, target, "policy", "history", "--db", str(target.path))
            assert offline.stdout == done.stdout

    async def test_gateways_starting_at_once_record_a_policy_once(self, backend: Backend,
                                                                  tmp_path: Path) -> None:
        """Two gateways opening one record at once with the same new policy append it once;
        both name the same entry. A third with another policy appends its own."""
        config = load_config(tmp_path, {})
        signer = Signer.from_key_string(config.keys.checkpoint_signing)
        records = [Record(store=backend.make(), kek=config.keys.kek, signer=signer,
                          origin=config.origin) for _ in range(3)]
        for record in records:
            await record.open()
        try:
            first, second = await asyncio.gather(record_policy(records[0], config.policy),
                                                 record_policy(records[1], config.policy))
            assert first == second
            other = load_config(tmp_path, {}, lambda raw: raw["policy"].pop("budbee")).policy
            third = await record_policy(records[2], other)
            assert third.seq == first.seq + 1
            assert third.document == document(other)
            again = await record_policy(records[0], other)
            assert again == third
        finally:
            for record in records:
                await record.close()


class TestVerify:
    @pytest.mark.parametrize("forged", ["foreign_rule", "no_such_version"])
    async def test_a_disclosure_outside_its_version_fails(self, backend: Backend,
                                                          tmp_path: Path, forged: str) -> None:
        """An intent written with the operator's own key whose rule is no rule of the version
        in force, or that names a position holding no policy version, fails verify at its
        position."""
        target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")
        change = on_store(target)
        await hooks(target, tmp_path, 1)
        record = build_record(load_config(tmp_path, {}, change))
        await record.open()
        try:
            named = 0 if forged == "foreign_rule" else 1
            appended = await record.append(Draft(
                kind=Kind.INTENT, disclosure="d_forged", order="O-forged", recipient="posti",
                service="home_delivery", fields=("name",), policy="f" * 64,
                data={"webhook_id": "msg_forged", "policy_version": named}))
        finally:
            await record.close()
        done = cli(tmp_path, target, "log", "verify", "--quiet")
        assert done.returncode == 1, done.stdout
        problem = ("the disclosure's rule digest is not a rule of the policy version in force "
                   "(position 0)" if forged == "foreign_rule" else
                   "the disclosure names a policy version at position 1, but the record holds "
                   "none there before it")
        assert done.stdout.strip() == f"FAILED at position {appended.seq}: {problem}"

    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    async def test_disclosures_before_the_first_version_are_counted(
            self, backend: Backend, tmp_path: Path) -> None:
        """A record written before versions were recorded verifies once a gateway has
        recorded its policy on it; its older disclosures are reported as predating it."""
        target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")
        record = build_record(load_config(tmp_path, {}))
        await record.open()
        for i in range(2):
            await record.append(Draft(kind=Kind.INTENT, disclosure=f"d_old{i}", recipient="posti",
                                      service="home_delivery", policy="0" * 64,
                                      data={"webhook_id": f"msg_old{i}"}))
        await record.close()
        await hooks(target, tmp_path, 1)
        docs = await entries(target)
        assert docs[2]["kind"] == Kind.POLICY
        assert docs[3]["data"]["policy_version"] == 2
        done = cli(tmp_path, target, "log", "verify", "--quiet")
        assert done.returncode == 0, done.stdout
        assert "; 1 policy version; 2 disclosures predate recorded policies" in done.stdout


class TestDocument:
    def test_a_recorded_document_gives_back_the_policy_and_its_digests(
            self, tmp_path: Path) -> None:
        """The canonical document rebuilds the policy it was made of, and each rule's digest
        is the SHA-256 of its entry in the document (what verify recomputes)."""
        policy = load_config(tmp_path, {}).policy
        doc = document(policy)
        version = PolicyVersion(seq=0, time="", sha256="", document=doc)
        assert version.policy() == policy
        assert {r.digest for r in policy.rules.values()} == rule_digests(
            {"data": {"document": doc}})
        assert any(r.get("addons") for r in doc["rules"])
        assert any(r.get("allow_items") for r in doc["rules"])
