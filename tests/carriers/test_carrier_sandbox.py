"""The carrier registry, the sandbox harness, and the helpers that keep values out of errors."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import carriers
from carriers import ADAPTERS
from carriers._core import code, fields_named, refused
from carriers.sandbox import BASE_PATHS, CONTROL, RECEIVED, SANDBOXES, run_sandbox
from carriers.sandbox._core import label_pdf
from carriers.sandbox.credentials import ALTERNATIVE_CREDENTIALS, SANDBOX_CREDENTIALS
from gateway.models import DISCLOSABLE_FIELDS

if TYPE_CHECKING:
    import aiohttp

CARRIERS = sorted(ADAPTERS)
#: The directory holding the ``carriers`` package, for the command-line subprocess.
ROOT = str(Path(carriers.__file__).resolve().parent.parent)


class TestRegistry:
    def test_every_adapter_has_a_sandbox_and_sandbox_credentials(self) -> None:
        """ADAPTERS, SANDBOXES, BASE_PATHS and SANDBOX_CREDENTIALS name the same carriers."""
        assert set(ADAPTERS) == set(SANDBOXES) == set(BASE_PATHS) == set(SANDBOX_CREDENTIALS)

    @pytest.mark.parametrize("name", CARRIERS)
    def test_adapter_is_registered_under_its_own_name(self, name: str) -> None:
        """The registry key is the adapter's ``name``; the class is exported in ``__all__``."""
        adapter = ADAPTERS[name]

        assert adapter.name == name
        assert adapter in [getattr(carriers, export) for export in carriers.__all__]

    @pytest.mark.parametrize("name", CARRIERS)
    def test_sandbox_takes_the_adapters_credential_names(self, name: str) -> None:
        """A sandbox's create_app takes exactly the adapter's credential names as keywords,
        those of every credential set the adapter may be configured with (Posti: HMAC, OAuth)."""
        adapter = ADAPTERS[name]
        sets = getattr(adapter, "credential_sets", (adapter.credential_names,))
        parameters = inspect.signature(SANDBOXES[name]).parameters

        assert tuple(parameters) == tuple(n for names in sets for n in names)
        assert sets[0] == adapter.credential_names
        assert tuple(SANDBOX_CREDENTIALS[name]) == adapter.credential_names
        alternatives = tuple(n for names in sets[1:] for n in names)
        assert tuple(ALTERNATIVE_CREDENTIALS.get(name, {})) == alternatives

    @pytest.mark.parametrize("name", CARRIERS)
    def test_services_name_only_disclosable_fields(self, name: str) -> None:
        """Every service requires only fields the policy knows, and at least a name."""
        for spec in ADAPTERS[name].services.values():
            assert spec.required | spec.any_of <= set(DISCLOSABLE_FIELDS)
            assert "name" in spec.required


class TestRunSandbox:
    @pytest.mark.parametrize("name", CARRIERS)
    async def test_serves_on_a_free_port_and_logs_requests(
        self, name: str, session: aiohttp.ClientSession
    ) -> None:
        """The sandbox listens on a real port under its base path and records what arrives."""
        async with run_sandbox(name) as (url, app):
            assert re.fullmatch(rf"http://127\.0\.0\.1:[1-9]\d*{BASE_PATHS[name]}", url)
            async with session.get(url + "/nowhere", headers={"X-Probe": "yes"}) as response:
                assert response.status == 404

            assert app[RECEIVED][-1].headers["X-Probe"] == "yes"

    async def test_simulated_outage_answers_every_request(
        self, session: aiohttp.ClientSession
    ) -> None:
        """With ``fail_status`` set, every request gets that status and is still recorded."""
        async with run_sandbox("posti") as (url, app):
            app[CONTROL].fail_status = 502
            async with session.post(url + "/prinetti/create-shipment", data=b"<x/>") as response:
                assert response.status == 502

            assert len(app[RECEIVED]) == 1

    async def test_command_line_serves_one_sandbox(self) -> None:
        """``python -m carriers.sandbox posti --port 0`` serves and prints its base URL."""
        paths = (ROOT, os.environ.get("PYTHONPATH"))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "carriers.sandbox", "posti", "--port", "0",
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
            assert re.fullmatch(rb"posti sandbox listening at http://127\.0\.0\.1:\d+\n", line)
        finally:
            process.terminate()
            await process.wait()


class TestLabelPdf:
    def test_is_a_complete_pdf_with_exact_cross_references(self) -> None:
        """The label parses as PDF: every xref offset points at its object, startxref at xref."""
        pdf = label_pdf("Sandbox label JJFI0001")

        assert pdf.startswith(b"%PDF-1.4\n")
        assert pdf.endswith(b"%%EOF\n")
        start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
        assert pdf[start:].startswith(b"xref\n")
        offsets = re.findall(rb"(\d{10}) 00000 n ", pdf)
        for number, offset in enumerate(offsets, start=1):
            assert pdf[int(offset) :].startswith(b"%d 0 obj" % number)


class TestErrorHelpers:
    def test_code_keeps_identifiers_and_drops_anything_else(self) -> None:
        """An error code passes; text with spaces or quotes becomes ``?``."""
        assert code("1003") == "1003"
        assert code("MISSING_MANDATORY_VALUE") == "MISSING_MANDATORY_VALUE"
        assert code("Mandatory data missing for 'Aino Esimerkki'") == "?"

    def test_fields_named_returns_known_names_only(self) -> None:
        """Of a carrier message only the known field names survive, never the values."""
        message = "missing ReceiverAddress for 'Aino Esimerkki' at Hämeenkatu ReceiverCityX"

        assert fields_named(message, ["ReceiverAddress", "ReceiverCity"]) == ("ReceiverAddress",)
        assert fields_named("a.b.smsNo", ["smsNo"]) == ("smsNo",)

    def test_refusal_names_status_codes_and_fields(self) -> None:
        """A refusal says who refused, the HTTP status, the codes and the field names."""
        error = refused("posti", 400, ["230", "it's 'Aino'"], ["Recipient.Phone"])

        assert str(error) == (
            "posti refused the shipment (HTTP 400; code 230, ?; fields Recipient.Phone); "
            "nothing was booked"
        )
