"""Posti through the Pakettikauppa / Posti Nextshipping "Prinetti" API: the adapter
(``adapter``: booking, returns, cancelling, labels, HMAC or OAuth authentication) and the
eChannel XML it sends (``echannel``: product and service codes, the documents)."""

from carriers.posti.adapter import Posti as Posti

__all__ = ["Posti"]
