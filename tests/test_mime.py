"""The email writer against the standard library's parser: what it writes reads back the same."""

from __future__ import annotations

import email
import email.policy

from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate import mime


def _read(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def _body(msg: email.message.EmailMessage, kind: str) -> str:
    # The parser keeps the wire's CRLF line ends in what it decodes.
    part = msg.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def _lines_ok(raw: bytes) -> None:
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, as SMTP wants
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_shape() -> None:
    raw = mime.alternative(
        [mime.header("Subject", "Hello"), mime.address_list("From", ["Sanjay <s@home.example>"]),
         mime.address_list("To", ["a@home.example", "Bé <b@home.example>"])],
        "text ☃\n", "<p>html ☃</p>")
    _lines_ok(raw)
    msg = _read(raw)
    assert msg["Subject"] == "Hello" and msg["From"] == "Sanjay <s@home.example>"
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@home.example", "b@home.example"]
    assert msg["To"].addresses[1].display_name == "Bé"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert _body(msg, "plain") == "text ☃\n"
    assert _body(msg, "html") == "<p>html ☃</p>\n"


def test_a_title_cannot_add_a_header() -> None:
    raw = mime.alternative([mime.header("Subject", "Hi\r\nBcc: victim@example.org\nX: y")],
                           "t", "h")
    msg = _read(raw)
    assert msg["Subject"] == "Hi Bcc: victim@example.org X: y"
    assert msg["Bcc"] is None and msg["X"] is None


def test_plain_text_that_looks_encoded_is_encoded() -> None:
    raw = mime.alternative([mime.header("Subject", "=?utf-8?q?not_really?=")], "t", "h")
    assert _read(raw)["Subject"] == "=?utf-8?q?not_really?="


def test_long_lines_and_a_hostile_url() -> None:
    long_url = "https://x.example/" + "a" * 3000
    text = ("word " * 400) + "\n" + "x" * 5000 + "\n.leading dot\n"
    raw = mime.alternative([mime.header("List-Post", f"<{long_url}>"),
                            mime.header("Subject", "long " * 60)], text, text)
    _lines_ok(raw)
    msg = _read(raw)
    assert msg["List-Post"] == f"<{long_url}>"
    assert msg["Subject"] == ("long " * 60).strip()
    assert _body(msg, "plain") == text


def test_many_recipients_fold_one_per_line() -> None:
    line = mime.address_list("To", [f"reader{i}@home.example" for i in range(20)])
    assert all(len(x) <= 78 for x in line.split("\r\n"))
    assert len(_read(mime.alternative([line], "t", "h"))["To"].addresses) == 20


@settings(max_examples=200, deadline=None)
@given(title=st.text(min_size=1, max_size=300), text=st.text(max_size=2000),
       html=st.text(max_size=2000))
def test_anything_reads_back(title: str, text: str, html: str) -> None:
    raw = mime.alternative([mime.header("Subject", title)], text, html)
    _lines_ok(raw)
    msg = _read(raw)
    assert msg["Subject"] == mime._one_line(title)

    def norm(s: str) -> str:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
        return s if s.endswith("\n") else s + "\n"

    assert _body(msg, "plain") == norm(text)
    assert _body(msg, "html") == norm(html)
