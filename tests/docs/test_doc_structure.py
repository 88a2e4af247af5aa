"""Each French page is a complete translation of its English twin, section by section.

Twins: docs/fr/X.md and docs/en/X.md, and README.fr.md and README.md. They must have the
same headings (level by level, in order), the same explicit anchors, the same code blocks
(language and marker) and the same images. In every section they must also have as many list
items and table rows, and a comparable length: a summary fails these last checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .markdown import REPO, code_blocks, explicit_anchors, headings, images, relative, sections

FRENCH_DIR = REPO / "docs" / "fr"
ENGLISH_DIR = REPO / "docs" / "en"
# French prose runs longer than English; a section outside these bounds was cut or padded.
LENGTH_RATIO = (0.75, 1.7)
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+\S", re.M)
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.M)
WORD = re.compile(r"\w+")


def twins() -> list[tuple[Path, Path]]:
    pairs = [(REPO / "README.fr.md", REPO / "README.md")]
    pairs += [(page, ENGLISH_DIR / page.name) for page in sorted(FRENCH_DIR.glob("*.md"))]
    return pairs


def twin_id(pair: tuple[Path, Path]) -> str:
    return relative(pair[0])


def test_doc_every_page_has_a_twin() -> None:
    french = {page.name for page in FRENCH_DIR.glob("*.md")}
    english = {page.name for page in ENGLISH_DIR.glob("*.md")}

    assert sorted(english - french) == [], "English pages without a French twin"
    assert sorted(french - english) == [], "French pages without an English twin"


@pytest.mark.parametrize("pair", twins(), ids=twin_id)
def test_doc_twins_same_heading_levels(pair: tuple[Path, Path]) -> None:
    french, english = pair

    assert [level for level, _ in headings(french)] == [level for level, _ in headings(english)]


@pytest.mark.parametrize("pair", twins(), ids=twin_id)
def test_doc_twins_same_anchors(pair: tuple[Path, Path]) -> None:
    french, english = pair

    assert explicit_anchors(french) == explicit_anchors(english)


@pytest.mark.parametrize("pair", twins(), ids=twin_id)
def test_doc_twins_same_code_blocks(pair: tuple[Path, Path]) -> None:
    french, english = pair

    def shape(page: Path) -> list[tuple[str, str | None, str]]:
        return [(block.language, block.marker,
                 block.marker_value if block.marker == "example" else "")
                for block in code_blocks(page)]

    assert shape(french) == shape(english)


@pytest.mark.parametrize("pair", twins(), ids=twin_id)
def test_doc_twins_same_images(pair: tuple[Path, Path]) -> None:
    french, english = pair

    assert images(french) == images(english)


@pytest.mark.parametrize("pair", twins(), ids=twin_id)
def test_doc_twins_same_lists_and_tables(pair: tuple[Path, Path]) -> None:
    french, english = pair
    french_sections, english_sections = sections(french), sections(english)
    assert len(french_sections) == len(english_sections)

    for (heading, french_body), (_, english_body) in zip(french_sections, english_sections,
                                                         strict=True):
        where = f"{relative(french)}, section {heading or '(top)'!r}"
        assert len(LIST_ITEM.findall(french_body)) == len(LIST_ITEM.findall(english_body)), \
            f"{where}: list items differ"
        assert len(TABLE_ROW.findall(french_body)) == len(TABLE_ROW.findall(english_body)), \
            f"{where}: table rows differ"


@pytest.mark.parametrize("pair", twins(), ids=twin_id)
def test_doc_twins_comparable_section_length(pair: tuple[Path, Path]) -> None:
    french, english = pair
    low, high = LENGTH_RATIO

    for (heading, french_body), (_, english_body) in zip(sections(french), sections(english),
                                                         strict=True):
        french_words = len(WORD.findall(french_body))
        english_words = len(WORD.findall(english_body))
        if english_words < 20:
            continue
        ratio = french_words / english_words
        assert low <= ratio <= high, (
            f"{relative(french)}, section {heading or '(top)'!r}: {french_words} words "
            f"against {english_words} in English (ratio {ratio:.2f})"
        )
