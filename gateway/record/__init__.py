"""The append-only, tamper-evident disclosure record."""

from gateway.record.entry import Appended as Appended
from gateway.record.entry import Draft as Draft
from gateway.record.entry import Kind as Kind
from gateway.record.record import Record as Record

__all__ = ["Appended", "Draft", "Kind", "Record"]
