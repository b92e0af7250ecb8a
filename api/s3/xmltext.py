"""Text inside the XML 1.0 documents Chronicle answers: escaped so the document is always
well-formed, whatever the text holds."""

from __future__ import annotations

import re

# Characters XML 1.0 cannot carry, neither raw nor as character references (&#x1; is XML 1.1
# only: expat, which boto3 and the aws cli parse with, refuses it).
_NOT_XML = "\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff"
NOT_XML = re.compile(f"[{_NOT_XML}]")
REPLACEMENT = "\ufffd"


def carries(text: str) -> bool:
    """Whether an XML 1.0 document can hold this text exactly."""
    return NOT_XML.search(text) is None


def escape_text(text: str) -> str:
    """Element content for `text`. What XML 1.0 cannot carry becomes U+FFFD: only keys stored
    before such keys were refused, or parameters echoed back, hold it (encoding-type=url
    lists such keys exactly)."""
    # Every character needing care but & < > is non-printable (controls, CR, U+FFFE/U+FFFF,
    # surrogates): a few C-speed scans pass the usual text through.
    if text.isprintable() and "&" not in text and "<" not in text and ">" not in text:
        return text
    text = NOT_XML.sub(REPLACEMENT, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A raw CR reaches the reader as LF (XML end-of-line handling); a reference keeps it.
    return text.replace("\r", "&#13;")
