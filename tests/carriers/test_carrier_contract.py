"""The contract every carrier adapter keeps, checked against its sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from carriers import ADAPTERS
from carriers.sandbox import BASE_PATHS, BOOKINGS, CONTROL, RECEIVED, run_sandbox
from gateway.errors import CarrierOutcomeUnknown, CarrierRejected, CarrierUnavailable
from gateway.models import Shipment

Case = Any  # conftest.Case; fixtures are typed loosely to keep conftest un-imported
AdapterMaker = Callable[..., Any]
ShipmentMaker = Callable[..., Shipment]
Leaks = Callable[[str], list[str]]


class TestEveryAdapter:
    async def test_books_and_returns_tracking_number_and_pdf_label(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker
    ) -> None:
        """A minimised shipment books and comes back with a tracking number and a PDF label."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, app):
            shipment = make_shipment(case)

            result = await make_adapter(case.carrier, url).create_shipment(shipment)

            assert result.tracking_number == app[BOOKINGS][shipment.reference].tracking_number
            assert result.label_format == "pdf"
            assert result.label.startswith(b"%PDF-")
            assert result.label.rstrip().endswith(b"%%EOF")

    async def test_carrier_receives_exactly_the_given_receiver_fields(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker, leaks: Leaks
    ) -> None:
        """The carrier gets the receiver fields policy let out, unchanged, and nothing else."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, app):
            shipment = make_shipment(case)

            await make_adapter(case.carrier, url).create_shipment(shipment)

            booking = app[BOOKINGS][shipment.reference].request
            got = case.sandbox.receiver_part(booking)
            given = shipment.receiver.fields()
            assert {case.sandbox.FIELDS[key] for key in got} == set(given)
            assert all(value == given[case.sandbox.FIELDS[key]] for key, value in got.items())
            for request in app[RECEIVED]:
                rest = case.sandbox.rest_text(request) if request is booking else request.text()
                assert not leaks(rest)

    async def test_fewer_fields_mean_fewer_fields_sent(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker
    ) -> None:
        """A field policy withheld is absent from the request: no placeholder stands in."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, app):
            fields = tuple(f for f in case.fields if f != case.drop)
            shipment = make_shipment(case, fields)

            with pytest.raises(CarrierRejected):
                await make_adapter(case.carrier, url).create_shipment(shipment)

            got = case.sandbox.receiver_part(app[RECEIVED][-1])
            assert {case.sandbox.FIELDS[key] for key in got} == set(fields)

    async def test_missing_required_field_is_refused_without_personal_data(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker, leaks: Leaks
    ) -> None:
        """The carrier's refusal surfaces as CarrierRejected naming the field, not any value."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, app):
            fields = tuple(f for f in case.fields if f != case.drop)
            shipment = make_shipment(case, fields)

            with pytest.raises(CarrierRejected) as caught:
                await make_adapter(case.carrier, url).create_shipment(shipment)

            assert case.drop_named in str(caught.value)
            assert not leaks(str(caught.value))
            assert app[BOOKINGS] == {}

    async def test_unreachable_carrier_is_unavailable(
        self,
        case: Case,
        make_adapter: AdapterMaker,
        make_shipment: ShipmentMaker,
        leaks: Leaks,
        closed_port: int,
    ) -> None:
        """A carrier that refuses the connection is unavailable: nothing was sent."""
        url = f"http://127.0.0.1:{closed_port}{BASE_PATHS[case.carrier]}"

        with pytest.raises(CarrierUnavailable) as caught:
            await make_adapter(case.carrier, url).create_shipment(make_shipment(case))

        assert not leaks(str(caught.value))

    async def test_server_error_is_unavailable(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker
    ) -> None:
        """A carrier answering 5xx is unavailable, and nothing was booked."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, app):
            app[CONTROL].fail_status = 503

            with pytest.raises(CarrierUnavailable):
                await make_adapter(case.carrier, url).create_shipment(make_shipment(case))

            assert app[BOOKINGS] == {}

    async def test_slow_carrier_leaves_the_outcome_unknown_and_findable(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker, leaks: Leaks
    ) -> None:
        """A timeout after sending is an unknown outcome; the booking is then found by reference."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, app):
            app[CONTROL].delay = 1.0
            shipment = make_shipment(case)

            with pytest.raises(CarrierOutcomeUnknown) as caught:
                await make_adapter(case.carrier, url, timeout=0.2).create_shipment(shipment)

            assert not leaks(str(caught.value))
            app[CONTROL].delay = 0.0
            found = await make_adapter(case.carrier, url).find_shipment(shipment.reference)
            assert found is not None
            assert found.tracking_number == app[BOOKINGS][shipment.reference].tracking_number

    async def test_finds_a_booked_shipment_by_reference(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker
    ) -> None:
        """find_shipment returns the booking made under our reference."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, _app):
            adapter = make_adapter(case.carrier, url)
            shipment = make_shipment(case)
            booked = await adapter.create_shipment(shipment)

            found = await adapter.find_shipment(shipment.reference)

            assert found is not None
            assert found.tracking_number == booked.tracking_number

    async def test_finds_nothing_under_an_unknown_reference(
        self, case: Case, make_adapter: AdapterMaker
    ) -> None:
        """find_shipment returns None when nothing was booked under the reference."""
        async with run_sandbox(case.carrier, credentials=case.credentials) as (url, _app):
            assert await make_adapter(case.carrier, url).find_shipment("d_unknown") is None

    async def test_wrong_credentials_are_refused(
        self, case: Case, make_adapter: AdapterMaker, make_shipment: ShipmentMaker
    ) -> None:
        """A sandbox expecting other credentials refuses the booking; nothing is booked."""
        other = dict.fromkeys(case.credentials, "someone-else")
        async with run_sandbox(case.carrier, credentials=other) as (url, app):
            with pytest.raises(CarrierRejected):
                await make_adapter(case.carrier, url).create_shipment(make_shipment(case))

            assert app[BOOKINGS] == {}

    def test_service_is_declared_with_its_required_fields(self, case: Case) -> None:
        """The adapter declares the service, and the case's fields cover what it requires."""
        spec = ADAPTERS[case.carrier].services[case.service]

        assert spec.required <= set(case.fields)
        assert case.drop in spec.required | spec.any_of
        assert spec.needs_pickup_point == (case.pickup_point_id is not None)
