"""Carrier adapters: each maps a minimised Shipment to one carrier's real API."""

from __future__ import annotations

from carriers._core import AddonSpec as AddonSpec
from carriers._core import Carrier as Carrier
from carriers._core import CarrierFactory as CarrierFactory
from carriers._core import ServiceSpec as ServiceSpec
from carriers.budbee import Budbee as Budbee
from carriers.dhl_express import DhlExpress as DhlExpress
from carriers.matkahuolto import Matkahuolto as Matkahuolto
from carriers.posti import Posti as Posti
from carriers.postnord import PostNord as PostNord

__all__ = [
    "ADAPTERS",
    "AddonSpec",
    "Budbee",
    "Carrier",
    "CarrierFactory",
    "DhlExpress",
    "Matkahuolto",
    "PostNord",
    "Posti",
    "ServiceSpec",
]

#: Carrier name -> adapter class; config and the app build adapters from this.
ADAPTERS: dict[str, CarrierFactory] = {
    adapter.name: adapter for adapter in (Posti, Matkahuolto, PostNord, DhlExpress, Budbee)
}
