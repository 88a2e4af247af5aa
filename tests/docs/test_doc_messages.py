"""Banner messages quoted in the docs are the banner's own texts, from messages.js.

In the user guides every quotation is a banner text: « … » in French, “ … ” in English. The
same applies to the runbooks' section on the session settings. A quotation matches when it is
a message with its placeholders ({seconds}, {time}, {minutes}) filled in, or a detail line,
which joins a cause and a retry text with " — ".
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from .markdown import REPO, prose_text, quotes, relative, section_text

MESSAGES_JS = REPO / "frontend_banner" / "src" / "messages.js"
QUOTE_MARKS = {"fr": ("«", "»"), "en": ("“", "”")}
USER_GUIDES = {language: REPO / "docs" / language / "user-guide.md" for language in QUOTE_MARKS}
RUNBOOKS = {language: REPO / "docs" / language / "runbook.md" for language in QUOTE_MARKS}
SETTINGS_HEADINGS = {"fr": "Les deux réglages de session", "en": "The two session settings"}


@cache
def banner_messages() -> dict[str, dict[str, str]]:
    """Import messages.js with Node, so the table is read exactly as the banner reads it."""
    script = (f"import {{ MESSAGES }} from {json.dumps(MESSAGES_JS.as_uri())};"
              "console.log(JSON.stringify(MESSAGES));")
    result = subprocess.run(["node", "--input-type=module", "-e", script],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, f"node could not import messages.js: {result.stderr}"
    table: dict[str, dict[str, str]] = json.loads(result.stdout)
    return table


def template_pattern(template: str) -> str:
    parts = re.split(r"\{\w+\}", template)
    # The banner keeps a number and its unit together with a no-break space; docs may quote
    # it with a plain one.
    return r"\S+".join(re.escape(part).replace("\u00a0", "[\u00a0 ]") for part in parts)


@cache
def message_regex(language: str) -> re.Pattern[str]:
    messages = banner_messages()[language]
    plain = [template_pattern(text) for text in messages.values()]
    causes = "|".join(template_pattern(messages[key]) for key in ("network", "server"))
    retries = "|".join(template_pattern(messages[key]) for key in ("retryIn", "retrying"))
    return re.compile("|".join([*plain, f"(?:{causes}) — (?:{retries})"]))


def quoted(page: Path, language: str, text: str | None = None) -> list[str]:
    opening, closing = QUOTE_MARKS[language]
    return quotes(prose_text(page) if text is None else text, opening, closing)


def test_doc_messages_read_from_banner() -> None:
    messages = banner_messages()

    assert messages["fr"]["relogin"] == "Se reconnecter"
    assert set(messages["fr"]) == set(messages["en"])


@pytest.mark.parametrize("language", QUOTE_MARKS)
def test_doc_user_guide_quotes_banner_messages(language: str) -> None:
    page = USER_GUIDES[language]
    found = quoted(page, language)
    assert len(found) >= 20, f"{relative(page)} quotes fewer banner texts than expected"

    for text in found:
        assert message_regex(language).fullmatch(text), \
            f"{relative(page)} quotes {text!r}, which the banner never shows"


@pytest.mark.parametrize("language", QUOTE_MARKS)
def test_doc_user_guide_names_every_button(language: str) -> None:
    found = set(quoted(USER_GUIDES[language], language))
    messages = banner_messages()[language]

    for key in ("retry", "save", "relogin", "title", "titleExpired", "refused", "network",
                "server", "expiredHint", "draftSaved", "nothingToSave"):
        assert any(messages[key] in text for text in found), f"{key} is never quoted"


@pytest.mark.parametrize("language", QUOTE_MARKS)
def test_doc_runbook_settings_quote_banner_messages(language: str) -> None:
    page = RUNBOOKS[language]
    found = quoted(page, language, section_text(page, SETTINGS_HEADINGS[language]))
    assert found, f"{relative(page)}: the session settings quote no banner text"

    for text in found:
        assert message_regex(language).fullmatch(text), \
            f"{relative(page)} quotes {text!r}, which the banner never shows"
