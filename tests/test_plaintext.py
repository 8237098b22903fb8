"""The plain-text part of an email: what a reader sees without HTML."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.content import clean_html, to_text


def test_blocks() -> None:
    html = clean_html(
        "<h2>Title</h2><p>One <b>bold</b> and <em>soft</em> word,<br>then a line.</p>"
        "<ul><li>a<ul><li>a.1</li></ul></li><li>b</li></ul><ol><li>first</li><li>second</li></ol>"
        "<blockquote><p>Quoted.</p><p>Twice.</p></blockquote><hr>"
        "<pre><code>x = 1\n  y = 2</code></pre>"
        "<table><thead><tr><th>A</th><th>B|C</th></tr></thead><tbody><tr><td>1</td></tr></tbody>"
        "</table>", "https://home.example/post")
    assert to_text(html) == (
        "## Title\n\nOne **bold** and *soft* word,\nthen a line.\n\n"
        "- a\n  - a.1\n- b\n\n1. first\n2. second\n\n> Quoted.\n>\n> Twice.\n\n---\n\n"
        "```\nx = 1\n  y = 2\n```\n\n| A | B\\|C |\n| --- | --- |\n| 1 |  |\n")


def test_links_images_and_embeds() -> None:
    html = clean_html(
        '<p>See <a href="/a">the post</a>, <a href="https://x.example/">https://x.example/</a>'
        ' and <a href="https://y.example/"><img src="/i.png" alt="a cat"></a>.</p>'
        '<p><img src="/bare.png"></p>'
        '<iframe src="https://video.example/e/1" title="A talk"></iframe>', "https://home.example/")
    assert to_text(html) == (
        "See the post (https://home.example/a), https://x.example/ and "
        "[image: a cat] (https://y.example/).\n\n[image: https://home.example/bare.png]\n\n"
        "A talk (https://video.example/e/1)\n")


def test_entities_and_spacing() -> None:
    assert to_text("<p>caf&eacute; &amp;\n\n   tea&nbsp;</p>  <p> </p>text after") == \
        "café & tea\n\ntext after\n"
    assert to_text("") == "" and to_text("<p> </p>") == ""


_html = st.recursive(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    lambda inner: st.tuples(
        st.sampled_from(["p", "div", "ul", "ol", "li", "a", "b", "em", "table", "tr", "td",
                         "blockquote", "pre", "code", "h3", "br", "img", "span", "iframe"]),
        st.lists(inner, max_size=4)).map(
        lambda t: f"<{t[0]} href='https://h.example/' src='https://h.example/i'>"
                  f"{''.join(t[1])}</{t[0]}>"),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(_html)
def test_any_clean_html_renders(html: str) -> None:
    text = to_text(clean_html(html))
    assert "\x00" not in text and "\n\n\n" not in text
    assert text == "" or (text.endswith("\n") and not text.startswith((" ", "\n")))
