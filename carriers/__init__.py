"""Carrier adapters: each maps a minimised Shipment to one carrier's real API.

The public surface is what ``__all__`` names: the adapter protocol (``Carrier``,
``CarrierFactory``) and its service and add-on specs, the optional operations an adapter may
offer (``CANCEL``, ``RETURN``) and the error for one it does not (``unsupported``), the
resilience wrapper every call goes through (``Guarded``, configured by ``Resilience``), and the
adapters by name (``ADAPTERS``): one module per carrier (``posti/`` a package: the adapter and
the eChannel XML it sends). ``carriers.sandbox`` holds local stand-ins of the carriers' APIs
for the demo and the tests. Nothing outside this package imports its private modules.

The package depends on nothing in ``gateway`` but the shipment model (``gateway.models``) and the
error tree its failures are raised in (``gateway.errors``); both import nothing of the gateway.
"""

from __future__ import annotations

from carriers._core import CANCEL as CANCEL
from carriers._core import RETURN as RETURN
from carriers._core import AddonSpec as AddonSpec
from carriers._core import Carrier as Carrier
from carriers._core import CarrierFactory as CarrierFactory
from carriers._core import ServiceSpec as ServiceSpec
from carriers._core import unsupported as unsupported
from carriers._resilience import Guarded as Guarded
from carriers._resilience import Observer as Observer
from carriers._resilience import Resilience as Resilience
from carriers.budbee import Budbee as Budbee
from carriers.dhl_express import DhlExpress as DhlExpress
from carriers.matkahuolto import Matkahuolto as Matkahuolto
from carriers.posti import Posti as Posti
from carriers.postnord import PostNord as PostNord

__all__ = [
    "ADAPTERS",
    "CANCEL",
    "RETURN",
    "AddonSpec",
    "Budbee",
    "Carrier",
    "CarrierFactory",
    "DhlExpress",
    "Guarded",
    "Matkahuolto",
    "Observer",
    "PostNord",
    "Posti",
    "Resilience",
    "ServiceSpec",
    "unsupported",
]

#: Carrier name -> adapter class; config and the app build adapters from this.
ADAPTERS: dict[str, CarrierFactory] = {
    adapter.name: adapter for adapter in (Posti, Matkahuolto, PostNord, DhlExpress, Budbee)
}
