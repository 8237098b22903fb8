"""One email as bytes: headers and a multipart/alternative body (RFC 5322, RFC 2045-2047).

Every email syndicate sends has the same shape (a plain-text and an HTML part, each UTF-8 and
quoted-printable), so it is written out directly. The standard library's `EmailMessage` parses
each header through its header registry and encodes bodies in pure Python: about 2.5 ms a
message, which was most of an email's CPU. What is kept from it is the part that is easy to get
wrong: `email.header.Header` folds and encodes (RFC 2047) any header that is not short ASCII,
and `binascii.b2a_qp` (C) encodes the bodies, which keeps every line under SMTP's 998-octet
limit (RFC 5322 2.1.1).
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Iterable
from email.header import Header
from email.utils import formataddr, parseaddr

__all__ = ["address_list", "alternative", "header"]

CRLF = "\r\n"
LINE = 78  # RFC 5322 2.1.1: lines SHOULD be no longer than 78 characters
# A header value is one line: a CR or LF in a feed's title would start a header of its own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PLAIN = re.compile(r"[\x20-\x7e]*")
_LONGEST_WORD = 900  # under the 998-octet line limit with the header's name


def _one_line(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


def header(name: str, value: str) -> str:
    """`Name: value` and its CRLF, folded, and RFC 2047-encoded when it is not plain ASCII."""
    value = _one_line(value)
    # "=?" in a plain value would read as an encoded word to a client, and a word too long to
    # fold (a hostile feed's URL) would break the line limit: both are encoded instead.
    if _PLAIN.fullmatch(value) and "=?" not in value and \
            max(map(len, value.split()), default=0) <= _LONGEST_WORD:
        if len(name) + 2 + len(value) <= LINE:
            return f"{name}: {value}{CRLF}"
        encoded = Header(value, "us-ascii", LINE, header_name=name).encode(linesep=CRLF)
    else:
        encoded = Header(value, "utf-8", LINE, header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}{CRLF}"


def address_list(name: str, addresses: Iterable[str]) -> str:
    """An address header (From, To, Reply-To), one address a line when they do not fit on one:
    display names are quoted or encoded (RFC 2047) as they need."""
    parts = []
    for raw in addresses:
        display, addr = parseaddr(_one_line(raw))
        parts.append(formataddr((display, addr or _one_line(raw)), charset="utf-8"))
    line = f"{name}: {', '.join(parts)}"
    if len(line) <= LINE:
        return line + CRLF
    return f"{name}: " + f",{CRLF} ".join(parts) + CRLF


def _quoted_printable(text: str) -> bytes:
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)
    if not crlf.endswith(CRLF):
        crlf += CRLF
    # istext: line breaks stay line breaks; the soft breaks come out as "=\r\n" because the
    # text's own breaks are CRLF.
    return binascii.b2a_qp(crlf.encode("utf-8"), quotetabs=False, istext=True, header=False)


def _part(subtype: str, text: str) -> bytes:
    return (f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}").encode() \
        + _quoted_printable(text) + b"\r\n"  # that CRLF belongs to the next boundary


def alternative(headers: Iterable[str], text: str, html: str) -> bytes:
    """The whole message: `headers` (each from `header` or `address_list`), then the text and
    HTML parts. The boundary starts with "=_", which quoted-printable can never produce."""
    boundary = f"=_{secrets.token_hex(16)}"
    head = "".join(headers) + (
        f"MIME-Version: 1.0{CRLF}"
        f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}')
    sep = f"--{boundary}{CRLF}".encode()
    # An address that is not ASCII needs SMTPUTF8 (RFC 6531): sent as UTF-8, the server decides.
    return b"".join((head.encode("utf-8"), sep, _part("plain", text), sep, _part("html", html),
                     f"--{boundary}--{CRLF}".encode()))
