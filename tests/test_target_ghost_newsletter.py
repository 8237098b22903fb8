"""Ghost newsletter: an email-only post sent to one newsletter, never edited."""

from __future__ import annotations

from .fakes.ghost import ADMIN_KEY, GhostServer
from .helpers import edit_entry, new_entry


def test_email_only_post_to_the_newsletter(make_runtime) -> None:
    server = GhostServer().start()
    try:
        rt, _ = make_runtime(targets=[{"name": "gn", "kind": "ghost_newsletter",
                                       "admin_url": server.url, "admin_key": ADMIN_KEY,
                                       "newsletter": "weekly", "segment": "status:-free"}])
        eid = new_entry(rt)
        assert rt.dispatcher.deliver(eid, "gn").state == "delivered"
        (post,) = server.posts
        assert post["email_only"] is True and post["status"] == "published"
        assert server.newsletter_sends == [("weekly", "status:-free")]
        assert post["canonical_url"] == "https://mind.blogspot.example/2025/12/post-1.html"
        edit_entry(rt, eid)
        assert rt.ledger.get(eid, "gn").state == "delivered"  # an email is not sent twice
        # Found again by canonical URL after a lost answer: one email.
        other = new_entry(rt, 2)
        server.faults.append("commit-then-drop")
        from .helpers import drive
        assert drive(rt, other, "gn").state == "delivered"
        assert len(server.newsletter_sends) == 2
    finally:
        server.stop()
