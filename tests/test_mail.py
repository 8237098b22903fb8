"""Email rendering without a browser."""

from __future__ import annotations

from syndicate.config import SiteConfig
from syndicate.mail import render_email

from .test_fidelity import POSTS


def test_embeds_become_links_in_email() -> None:
    titans = next(p for p in POSTS if p.title.startswith("Parallel"))
    html, text = render_email(titans, SiteConfig(title="Sanjay Basu"))
    assert "<iframe" not in html
    assert '<a href="https://www.youtube.example/embed/abc123"' in html
    assert "Tensor cores explained" in html
    assert "https://www.youtube.example/embed/abc123" in text
