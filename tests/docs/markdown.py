"""Read the Markdown pages of the docs: fenced code blocks, headings, anchors, links, quotes.

A small parser for the subset of Markdown these pages use, so the doc tests need no
Markdown library. Code blocks are fenced with ``` (possibly indented inside a list item); a
block's marker is an HTML comment on the line right before its fence:
``<!-- example: PATH -->`` or ``<!-- not-run: REASON -->``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Pages whose code blocks must run or match an example, and whose French twin is checked.
DOC_PAGES = [REPO / "README.md", REPO / "README.fr.md", *sorted((REPO / "docs").rglob("*.md"))]
# Pages whose links and images are checked: the docs and the READMEs of the components.
LINKED_PAGES = [
    *DOC_PAGES,
    REPO / "alerting" / "README.md",
    REPO / "alerting" / "grafana" / "README.md",
    REPO / "frontend_banner" / "README.md",
]

FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>example|not-run):\s*(?P<value>.*?)\s*-->\s*$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
ANCHOR = re.compile(r'<a\s+id="(?P<id>[^"]+)"\s*>\s*</a>')
INLINE_CODE = re.compile(r"`[^`\n]*`")
MD_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)=\"(?P<target>[^\"]+)\"")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: where it starts, its info string, its text and its marker."""

    page: Path
    line: int
    language: str
    text: str
    marker: str | None = None
    marker_value: str = ""

    @property
    def ident(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    target: str
    is_image: bool


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


@cache
def _split(page: Path) -> tuple[tuple[CodeBlock, ...], tuple[str, ...]]:
    """Return the page's code blocks and its lines with every code line blanked."""
    lines = page.read_text("utf-8").splitlines()
    prose = list(lines)
    blocks: list[CodeBlock] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        body = [line[indent:] if line[:indent].strip() == "" else line.lstrip()
                for line in lines[index + 1:end]]
        marker = _marker_before(lines, index)
        blocks.append(CodeBlock(
            page=page, line=index + 1, language=opening["info"].strip().split(" ")[0],
            text="\n".join(body) + "\n",
            marker=marker[0] if marker else None, marker_value=marker[1] if marker else "",
        ))
        for blanked in range(index, min(end + 1, len(lines))):
            prose[blanked] = ""
        index = end + 1
    return tuple(blocks), tuple(prose)


def _marker_before(lines: list[str], index: int) -> tuple[str, str] | None:
    previous = index - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    if previous < 0:
        return None
    found = MARKER.match(lines[previous])
    return (found["kind"], found["value"]) if found else None


def code_blocks(page: Path) -> list[CodeBlock]:
    return list(_split(page)[0])


def prose_text(page: Path) -> str:
    """Return the page with code blocks blanked (line numbers kept)."""
    return "\n".join(_split(page)[1])


def headings(page: Path) -> list[tuple[int, str]]:
    """Return (level, text) of every heading outside code blocks, in order."""
    found = []
    for line in _split(page)[1]:
        match = HEADING.match(line)
        if match:
            found.append((len(match["hashes"]), match["text"]))
    return found


def explicit_anchors(page: Path) -> list[str]:
    return [match["id"] for match in ANCHOR.finditer(prose_text(page))]


def heading_text(markdown: str) -> str:
    """Return a heading's rendered text: code spans, links and emphasis reduced to their text."""
    text = re.sub(r"`([^`]*)`", r"\1", markdown)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(?<!\w)(\*\*|__|\*|_)(\S(?:.*?\S)?)\1(?!\w)", r"\2", text)


def github_slug(text: str) -> str:
    """Return the anchor GitHub generates for a heading's text (before deduplication).

    GitHub lower-cases the rendered text, drops every character that is not a letter, a
    mark, a digit, an underscore, a hyphen or a space, then turns spaces into hyphens.
    """
    lowered = heading_text(text).strip().lower()
    kept = "".join(c for c in lowered if c.isalnum() or c in "_- " or _is_mark(c))
    return kept.replace(" ", "-")


def _is_mark(character: str) -> bool:
    return unicodedata.category(character).startswith("M")


def heading_slugs(page: Path) -> list[str]:
    """Return GitHub's anchors for every heading, with -1, -2 … on repeated slugs."""
    seen: dict[str, int] = {}
    slugs = []
    for _level, text in headings(page):
        slug = github_slug(text)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        slugs.append(slug if count == 0 else f"{slug}-{count}")
    return slugs


def anchors(page: Path) -> set[str]:
    """Return every anchor a link may point to: heading slugs and explicit `<a id>`."""
    return set(heading_slugs(page)) | set(explicit_anchors(page))


def links(page: Path) -> list[Link]:
    """Return the Markdown and HTML links and images outside code, with their line."""
    text = INLINE_CODE.sub(lambda m: " " * len(m.group()), prose_text(page))
    found = []
    for match in MD_LINK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append(Link(page, line, match["target"], match["bang"] == "!"))
    for match in HTML_LINK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append(Link(page, line, match["target"], match.group().startswith("<img")))
    return sorted(found, key=lambda link: link.line)


def images(page: Path) -> list[str]:
    return [link.target for link in links(page) if link.is_image]


def sections(page: Path) -> list[tuple[str, str]]:
    """Split the prose into (heading, body) pairs; the text before the first heading is ''."""
    parts: list[tuple[str, str]] = [("", "")]
    for line in _split(page)[1]:
        match = HEADING.match(line)
        if match:
            parts.append((match["text"], ""))
        else:
            heading, body = parts[-1]
            parts[-1] = (heading, body + line + "\n")
    return parts


def section_text(page: Path, heading: str) -> str:
    """Return the prose under `heading`, up to the next heading of the same or a higher level."""
    lines = _split(page)[1]
    level = None
    kept: list[str] = []
    for line in lines:
        match = HEADING.match(line)
        if match and level is not None and len(match["hashes"]) <= level:
            break
        if match and level is None and match["text"] == heading:
            level = len(match["hashes"])
        elif level is not None:
            kept.append(line)
    assert level is not None, f"{relative(page)} has no heading {heading!r}"
    return "\n".join(kept)


def quotes(text: str, opening: str, closing: str) -> list[str]:
    """Return the quoted passages of `text`, with runs of white space made one space."""
    pattern = re.compile(re.escape(opening) + r"(.+?)" + re.escape(closing), re.S)
    return [" ".join(match.split()) for match in pattern.findall(text)]
