"""S3 XML: a tiny builder for responses and the one parser of request bodies."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedET

from api.errors import S3Error
from api.s3.xmltext import escape_text

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


class X:
    """Builds XML text directly; ~10x faster than ElementTree for list responses."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[str] = [DECLARATION]

    def open(self, tag: str, xmlns: bool = False) -> X:
        self.parts.append(f'<{tag} xmlns="{S3_NS}">' if xmlns else f"<{tag}>")
        return self

    def close(self, tag: str) -> X:
        self.parts.append(f"</{tag}>")
        return self

    def leaf(self, tag: str, value: Any) -> X:
        if value is None:
            return self
        if isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = escape_text(str(value))
        self.parts.append(f"<{tag}>{text}</{tag}>")
        return self

    def raw(self, text: str) -> X:
        self.parts.append(text)
        return self

    def bytes(self) -> bytes:
        return "".join(self.parts).encode()


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(body: bytes, root: str | None = None, *, error: str = "MalformedXML") -> ET.Element:
    """Parse a request document, in whatever encoding it declares. A DTD, an entity
    declaration or an external reference is refused by the parser itself (a byte search
    misses them in UTF-16), so nothing is ever expanded: that, and anything not well-formed
    or with another root element, is `error`."""
    if not body.strip():
        raise S3Error(error)
    try:
        element = DefusedET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise S3Error(error) from exc  # LookupError: an encoding Python does not know
    if root is not None and local(element.tag) != root:
        raise S3Error(error)
    return element


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if local(c.tag) == name]


def child(element: ET.Element, name: str) -> ET.Element | None:
    for c in element:
        if local(c.tag) == name:
            return c
    return None


def text(element: ET.Element, name: str, default: str | None = None) -> str | None:
    c = child(element, name)
    if c is None:
        return default
    return c.text or ""
