"""Check front-end snippets of the docs that need React or Mantine, which are not installed.

Such a snippet cannot run here, but what it uses of sessionwatch can be checked against the
components' sources. The checks cover the names it imports from the banner package, the
keeper options, the attributes it sets on the custom elements, the events it listens to and
the CSS custom properties it sets.
"""

from __future__ import annotations

import json
import re
from functools import cache

from .markdown import REPO

BANNER_PACKAGE = REPO / "frontend_banner"
WIDGET_DIR = REPO / "exporter" / "static" / "widget"
COMPONENTS = {
    "session-banner": BANNER_PACKAGE,
    "session-metrics-widget": WIDGET_DIR,
}
# Attributes React handles itself: they never reach the element as attributes.
REACT_PROPS = frozenset({"ref", "key", "style", "className", "children"})

IMPORT = re.compile(r"import\s+(?:type\s+)?(?:\{(?P<names>[^}]*)\}\s+from\s+)?'(?P<source>[^']+)'")
TAG = re.compile(r"<(?P<tag>session-banner|session-metrics-widget)\b(?P<attributes>[^>]*)>", re.S)
ATTRIBUTE = re.compile(r"(?P<name>[A-Za-z][\w-]*)=")
LISTENER = re.compile(r"addEventListener\('(?P<event>[^']+)'")
CUSTOM_PROPERTY = re.compile(r"--(?:session-banner|smw)-[\w-]+")
KEEPER_OPTIONS = re.compile(r"new SessionKeeper\(\{(?P<body>.*?)\n\}\);", re.S)
TOP_LEVEL_KEY = re.compile(r"^  (?:async\s+)?(?P<key>\w+)\s*[:(]", re.M)


@cache
def source_text(folder_key: str) -> str:
    folder = COMPONENTS[folder_key]
    files = [*folder.rglob("*.js"), *folder.rglob("*.d.ts")]
    return "\n".join(path.read_text("utf-8") for path in sorted(files)
                     if "node_modules" not in path.parts)


def banner_exports() -> set[str]:
    declarations = (BANNER_PACKAGE / "index.d.ts").read_text("utf-8")
    return set(re.findall(r"export\s+(?:declare\s+)?(?:class|function|const|interface|type)\s+"
                          r"(\w+)", declarations))


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def check_frontend_snippet(snippet: str) -> list[str]:
    """Return what the snippet uses that the components do not provide."""
    problems = check_imports(snippet)
    for tag in TAG.finditer(snippet):
        source = source_text(tag["tag"])
        for attribute in ATTRIBUTE.finditer(tag["attributes"]):
            name = attribute["name"]
            if name not in REACT_PROPS and not mentions(source, name):
                problems.append(f"<{tag['tag']}> has no attribute {name!r}")
    every_source = source_text("session-banner") + source_text("session-metrics-widget")
    for listener in LISTENER.finditer(snippet):
        if not mentions(every_source, listener["event"]):
            problems.append(f"no component fires {listener['event']!r}")
    for name in set(CUSTOM_PROPERTY.findall(snippet)):
        if not mentions(every_source, name):
            problems.append(f"no component reads the custom property {name}")
    options = KEEPER_OPTIONS.search(snippet)
    if options:
        declarations = (BANNER_PACKAGE / "index.d.ts").read_text("utf-8")
        for key in TOP_LEVEL_KEY.findall(options["body"]):
            if not re.search(rf"\b{key}\??:", declarations):
                problems.append(f"SessionKeeper has no option {key!r}")
    return problems


def check_imports(snippet: str) -> list[str]:
    problems = []
    package = json.loads((BANNER_PACKAGE / "package.json").read_text("utf-8"))["name"]
    for found in IMPORT.finditer(snippet):
        source = found["source"]
        if source == package:
            names = {name.strip().split(" as ")[0] for name in found["names"].split(",")}
            missing = sorted(name for name in names - banner_exports() if name)
            problems += [f"{package} does not export {name}" for name in missing]
        elif source.startswith("@sessionwatch/"):
            problems.append(f"unknown package {source}; the banner's is {package}")
        elif "session-metrics-widget" in source and not (WIDGET_DIR / "index.js").is_file():
            problems.append("exporter/static/widget/index.js is missing")
    return problems
