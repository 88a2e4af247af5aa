"""Copy each example file into the doc blocks that declare it with <!-- example: PATH -->.

Run from the repository root after editing a file of examples/:

    .venv/bin/python -m tests.docs.sync_examples

It rewrites only the blocks whose text differs, keeps their indentation, and prints the
pages it changed.
"""

from __future__ import annotations

import re

from .markdown import DOC_PAGES, REPO, relative

EXAMPLE_MARKER = re.compile(r"^(?P<indent>\s*)<!-- example: (?P<path>\S+) -->$")


def synced(lines: list[str]) -> list[str]:
    """Return the page's lines with every example block replaced by its file."""
    result: list[str] = []
    index = 0
    while index < len(lines):
        marker = EXAMPLE_MARKER.match(lines[index])
        fenced = index + 1 < len(lines) and lines[index + 1].strip().startswith("```")
        if marker is None or not fenced:
            result.append(lines[index])
            index += 1
            continue
        end = index + 2
        while lines[end].strip() != "```":
            end += 1
        body = (REPO / marker["path"]).read_text("utf-8").rstrip("\n").split("\n")
        indented = [marker["indent"] + line if line else line for line in body]
        result += [lines[index], lines[index + 1], *indented, lines[end]]
        index = end + 1
    return result


def main() -> None:
    for page in DOC_PAGES:
        lines = page.read_text("utf-8").split("\n")
        new_lines = synced(lines)
        if new_lines != lines:
            page.write_text("\n".join(new_lines), "utf-8")
            print(f"updated {relative(page)}")


if __name__ == "__main__":
    main()
