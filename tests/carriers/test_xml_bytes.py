"""The XML carriers receive: the same bytes ElementTree's own UTF-8 serialisation gives."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from carriers._core import sub, xml_bytes


def test_same_bytes_as_elementtree_utf8() -> None:
    """Declaration, escaping of text and attributes, non-ASCII and a lone surrogate all come
    out as ``ET.tostring(encoding="utf-8", xml_declaration=True)`` writes them."""
    root = ET.Element("eChannel")
    routing = sub(root, "ROUTING", kind='a "quoted" & <odd> value')
    sub(routing, "Routing.Name", "Hämeenkatu 1 A 2 & <Pyynikki>")
    sub(routing, "Routing.Emoji", "Åbo \N{SNOWMAN} \ud800")
    sub(routing, "Routing.Empty")
    assert xml_bytes(root) == ET.tostring(root, encoding="utf-8", xml_declaration=True)
