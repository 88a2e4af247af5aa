"""Every relative link and image of the docs resolves, and so does every #anchor."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from .markdown import LINKED_PAGES, REPO, Link, anchors, github_slug, links, relative

EXTERNAL = ("http://", "https://", "mailto:")


def local_links(page: Path) -> list[Link]:
    return [link for link in links(page) if not link.target.startswith(EXTERNAL)]


def resolve(link: Link) -> tuple[Path, str]:
    """Return the file a link points to and its anchor ('' when it has none)."""
    path, _, anchor = link.target.partition("#")
    target = link.page if not path else (link.page.parent / unquote(path)).resolve()
    return target, unquote(anchor)


@pytest.mark.parametrize("page", LINKED_PAGES, ids=relative)
def test_doc_links_resolve_to_files(page: Path) -> None:
    for link in local_links(page):
        target, _anchor = resolve(link)
        where = f"{relative(page)}:{link.line} links to {link.target!r}"
        assert target.is_relative_to(REPO), f"{where}, outside the repository"
        assert target.exists(), f"{where}, which does not exist"


@pytest.mark.parametrize("page", LINKED_PAGES, ids=relative)
def test_doc_links_resolve_to_anchors(page: Path) -> None:
    for link in local_links(page):
        target, anchor = resolve(link)
        if not anchor or not target.is_file():
            continue
        where = f"{relative(page)}:{link.line} links to {link.target!r}"
        assert target.suffix == ".md", f"{where}: an anchor into a file that is not Markdown"
        assert anchor in anchors(target), f"{where}: no heading or <a id> has that anchor"


@pytest.mark.parametrize("page", LINKED_PAGES, ids=relative)
def test_doc_images_are_files(page: Path) -> None:
    for link in local_links(page):
        if link.is_image:
            target, _anchor = resolve(link)
            assert target.is_file(), f"{relative(page)}:{link.line}: image {link.target!r}"


@pytest.mark.parametrize(("heading", "slug"), [
    ("Alerts", "alerts"),
    ("Événements", "événements"),
    ("`token_expiration_minutes`: how long a token lives",
     "token_expiration_minutes-how-long-a-token-lives"),
    ("Le Wi-Fi de la boutique a coupé. Que faire\u00a0?",
     "le-wi-fi-de-la-boutique-a-coupé-que-faire"),
    ("Plain HTML: one import and one tag", "plain-html-one-import-and-one-tag"),
    ("The exporter's `/admin` page", "the-exporters-admin-page"),
])
def test_doc_slug_matches_github(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug
