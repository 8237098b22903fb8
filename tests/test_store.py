"""The entry store's identity rules, against a real Redis."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.entry import Entry
from syndicate.keys import Keys
from syndicate.parse import parse_feed
from syndicate.store import EntryStore

from .conftest import fixture_bytes

LONG = " ".join(["Entropy is the price a living system pays to keep its own order."] * 8)


def entry(**kw: object) -> Entry:
    base: dict[str, object] = dict(
        source="wordpress", guid="https://blog.example/?p=7",
        link="https://blog.example/2025/01/01/a-post/", title="A post",
        content_html=f"<p>{LONG}</p>", published=1_700_000_000.0,
        post_id="wordpress:blog.example:7")
    base.update(kw)
    e = Entry(**base)
    from syndicate import identity
    e.fingerprint = identity.fingerprint(e.title, e.content_html)
    return e


def store(r, prefix) -> EntryStore:
    return EntryStore(r, Keys(prefix))


def test_all_fixture_posts_are_nine_entries(r, prefix) -> None:
    s = store(r, prefix)
    for name, src in (("blogger-atom.xml", "blogger"), ("wordpress-rss.xml", "wordpress")):
        for e in parse_feed(fixture_bytes(name), "http://127.0.0.1/f", src).entries:
            s.upsert(e)
    assert s.count() == 9
    # A second sighting of everything changes nothing.
    for name, src in (("blogger-atom.xml", "blogger"), ("wordpress-rss.xml", "wordpress")):
        for e in parse_feed(fixture_bytes(name), "http://127.0.0.1/f", src).entries:
            assert s.upsert(e)[1] == "same"
    assert s.count() == 9
    assert s.feed_state().version == 9


def test_edit_is_the_same_entry(r, prefix) -> None:
    s = store(r, prefix)
    eid, status = s.upsert(entry())
    assert status == "new"
    edited = entry(content_html=f"<p>{LONG} And one more sentence.</p>", title="A post (edited)")
    assert s.upsert(edited) == (eid, "changed")
    assert s.get(eid).title == "A post (edited)"
    assert s.count() == 1


def test_changed_guid_is_the_same_entry(r, prefix) -> None:
    s = store(r, prefix)
    eid, _ = s.upsert(entry())
    moved = entry(guid="urn:uuid:0d5b1c1e-new-guid", post_id="")
    assert s.upsert(moved)[0] == eid
    # ...and so is a sighting by link alone with http and a tracking parameter.
    by_link = entry(guid="", post_id="", content_html="<p>short</p>",
                    link="http://www.blog.example/2025/01/01/a-post?utm_source=x")
    assert s.upsert(by_link)[0] == eid
    assert s.count() == 1


def test_same_post_on_both_blogs_is_one_entry(r, prefix) -> None:
    s = store(r, prefix)
    eid, _ = s.upsert(entry(source="blogger", guid="tag:blogger.com,1999:blog-1.post-2",
                            post_id="blogger:1:2",
                            link="https://mind.blogspot.example/2025/01/a-post.html"))
    # WordPress renders the same text with other markup and typography.
    wp = entry(content_html="<div><p>" + LONG.replace("’", "'").upper() + "</p></div>")
    assert s.upsert(wp) == (eid, "alias")
    assert s.count() == 1
    assert s.get(eid).source == "blogger"


def test_concurrent_sightings_make_one_entry(r, prefix) -> None:
    s = store(r, prefix)
    results: list[tuple[str, str]] = []
    barrier = threading.Barrier(8)

    def see() -> None:
        barrier.wait()
        results.append(s.upsert(entry()))

    threads = [threading.Thread(target=see) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [st for _, st in results].count("new") == 1
    assert len({eid for eid, _ in results}) == 1
    assert r.zcard(Keys(prefix).outbox) == 1


def test_baseline_does_not_enter_outbox(r, prefix) -> None:
    s = store(r, prefix)
    s.upsert(entry(), deliver=False)
    assert s.outbox() == []
    eid, _ = s.upsert(entry(guid="g2", link="https://blog.example/other", post_id="",
                            content_html="<p>other</p>"))
    assert s.outbox() == [eid]


def test_find_by_id_guid_or_url(r, prefix) -> None:
    s = store(r, prefix)
    eid, _ = s.upsert(entry())
    assert s.find(eid).id == eid
    assert s.find("https://blog.example/?p=7").id == eid
    assert s.find("https://blog.example/2025/01/01/a-post/").id == eid
    assert s.find("https://blog.example/nope") is None


def test_known_answers_each_entry_in_order(r, prefix) -> None:
    s = store(r, prefix)
    a = entry(guid="g-a", link="https://blog.example/a", post_id="")
    s.upsert(a)
    fresh = [entry(guid=f"g-{i}", link=f"https://blog.example/new-{i}", post_id="",
                   content_html=f"<p>{i}</p>") for i in range(3)]
    assert s.known([a, fresh[0], a, fresh[1], fresh[2]]) == [True, False, True, False, False]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_normalized_text_is_what_stored_fingerprints_were_made_with(text: str) -> None:
    """The fold is a translate table now; it must give exactly what the regex split gave, or
    every post stored before would stop matching its own fingerprint."""
    import re
    import unicodedata

    from syndicate.identity import normalize_text, plain_text

    folded = unicodedata.normalize("NFKC", plain_text(text)).casefold()
    assert normalize_text(text) == " ".join(re.split(r"[\W_]+", folded)).strip()


def test_upsert_many_is_upsert_in_order_and_one_bad_entry_stays_alone(r, prefix) -> None:
    """A poll stores its entries in one pipeline: the same outcomes as one by one (an entry
    seen twice in one batch is the same post), and an entry that cannot be stored is reported
    in its place while the others are stored."""
    s = EntryStore(r, Keys(prefix))
    a = Entry(source="blog", guid="urn:a", link="https://blog.example/a", title="A",
              content_html="<p>a</p>", published=1.0)
    again = Entry(**{**a.__dict__})
    nameless = Entry(source="blog", guid="", link="", title="?", content_html="", published=2.0)
    b = Entry(source="blog", guid="urn:b", link="https://blog.example/b", title="B",
              content_html="<p>b</p>", published=3.0)
    got = s.upsert_many([(a, True, ""), (again, True, ""), (nameless, True, ""), (b, False, "")])
    assert got[0] == (a.id, "new") and got[1] == (a.id, "same")
    assert isinstance(got[2], ValueError) and "guid or a link" in str(got[2])
    assert got[3] == (b.id, "new")
    assert s.outbox() == [a.id]  # b was recorded, not sent
    assert s.get(b.id) is not None and s.upsert(b)[1] == "same"
