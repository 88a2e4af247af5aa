"""Every screenshot in the docs is one that the browser tests write, at the size they write it.

The banner screenshots come from tests/browser/test_banner_a11y.py (viewport captures, so
exactly the viewport size) and the widget ones from tests/widget/test_widget_look.py
(full-page captures: the viewport's width, at least its height). Their file names are read
from those modules' constants, so a renamed state or size shows up here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import test_banner_a11y as banner_shots
from tests.widget import test_widget_look as widget_shots

from .markdown import LINKED_PAGES, REPO, links, relative

SCREENSHOTS = REPO / "docs" / "screenshots"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# NOTE: test_banner_a11y.py loops over these two schemes inline; it has no constant for them.
BANNER_SCHEMES = ("light", "dark")


@dataclass(frozen=True)
class Produced:
    """A screenshot a browser test writes: its size and whether taller pages are allowed."""

    width: int
    height: int
    full_page: bool


def produced_screenshots() -> dict[Path, Produced]:
    produced: dict[Path, Produced] = {}
    for state in banner_shots.STATES:
        for scheme in BANNER_SCHEMES:
            for name, (width, height) in banner_shots.SIZES.items():
                path = banner_shots.SCREENSHOTS / f"{state}-{scheme}-{name}.png"
                produced[path] = Produced(width, height, full_page=False)
    for state in widget_shots.STATES:
        for scheme in widget_shots.SCHEMES:
            for width, height in widget_shots.SIZES:
                path = widget_shots.DOCS_SCREENSHOTS / f"{state}-{scheme}-{width}x{height}.png"
                produced[path] = Produced(width, height, full_page=True)
    return produced


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, f"{relative(path)} is not a PNG file"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def referenced_screenshots() -> list[tuple[str, Path]]:
    """Return (where, path) for every image of a page that lies under docs/screenshots."""
    found = []
    for page in LINKED_PAGES:
        for link in links(page):
            target = (page.parent / link.target).resolve()
            if link.is_image and target.is_relative_to(SCREENSHOTS):
                found.append((f"{relative(page)}:{link.line}", target))
    return found


def test_doc_screenshot_constants_found() -> None:
    produced = produced_screenshots()

    assert len(produced) == 16 + 20
    assert all(path.is_relative_to(SCREENSHOTS) for path in produced)


def test_doc_screenshots_are_referenced() -> None:
    assert len(referenced_screenshots()) >= 10


@pytest.mark.parametrize(("where", "path"), referenced_screenshots(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_doc_screenshot_produced_by_tests(where: str, path: Path) -> None:
    produced = produced_screenshots()

    assert path in produced, f"{where}: no browser test writes {relative(path)}"
    assert path.is_file(), f"{where}: {relative(path)} is missing; run the browser tests"
    expected = produced[path]
    width, height = png_size(path)
    assert width == expected.width, f"{where}: {relative(path)} is {width} px wide"
    if expected.full_page:
        assert height >= expected.height, f"{where}: {relative(path)} is {height} px high"
    else:
        assert height == expected.height, f"{where}: {relative(path)} is {height} px high"


def test_doc_screenshot_folder_has_no_stale_file() -> None:
    produced = set(produced_screenshots())
    on_disk = {path for path in SCREENSHOTS.rglob("*") if path.is_file()}

    assert sorted(map(relative, on_disk - produced)) == [], "files no test writes any more"
    assert sorted(map(relative, produced - on_disk)) == [], "screenshots not generated yet"
