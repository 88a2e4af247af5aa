"""Every code block of the docs is tested: it matches a tested file, or it runs.

Each fenced block of README.md, README.fr.md and docs/**/*.md is one of:

- **example**: `<!-- example: PATH -->` right before it. The block equals the file byte for
  byte, and EXAMPLE_TESTS names the tests that exercise the file;
- **shell** (sh, bash): run by `DocShell` against a private Redis and exporter, and must exit
  0 (servers are started, probed and stopped, test suites only collected, benchmarks only
  checked; see shell.py);
- **promql**: run against a private Prometheus scraping the doc exporter, and must return
  data;
- **not-run**: `<!-- not-run: REASON -->` right before it, for commands that only make sense
  on a production host and for front-end code that needs a framework this repository does
  not install. The reason must be specific, and the block still gets every check that can
  run here (programs, options, paths, imported names, attributes, events);
- **text**: a diagram, which is not code.
"""

from __future__ import annotations

import importlib
import re

import pytest

from ..support.prometheus import PrometheusServer
from ..support.servers import free_port
from .frontend import check_frontend_snippet
from .markdown import DOC_PAGES, REPO, CodeBlock, code_blocks, relative
from .shell import SHELL_LANGUAGES, DocShell, check_not_run, is_benchmark

# Every file under examples/, with the tests that exercise it (module::function).
EXAMPLE_TESTS: dict[str, list[str]] = {
    "examples/fastapi_app.py": [
        "test_examples::test_fastapi_app_records_a_session_over_http",
        "test_examples::test_fastapi_app_refuses_idle_session",
    ],
    "examples/client_events_app.py": [
        "test_examples::test_client_events_app_counts_client_failures",
        "test_examples_browser::test_banner_plain_page_retries_and_reports",
    ],
    "examples/client_events/batch.json": [
        "test_examples::test_client_events_batch_accepted",
    ],
    "examples/admin_router_app.py": [
        "test_examples::test_admin_router_app_requires_admin_cookie",
        "test_examples_browser::test_widget_one_tag_page_uses_cookies",
    ],
    "examples/banner/plain.html": [
        "test_examples_browser::test_banner_plain_page_retries_and_reports",
    ],
    "examples/widget/one-tag.html": [
        "test_examples_browser::test_widget_one_tag_page_uses_cookies",
    ],
    "examples/widget/token-provider.html": [
        "test_examples_browser::test_widget_token_provider_page_sends_token",
    ],
    "examples/prometheus/prometheus.yml": [
        "test_examples::test_prometheus_example_passes_promtool",
        "test_examples::test_prometheus_example_scrapes_exporter",
    ],
    "examples/systemd/sessionwatch-exporter.service": [
        "test_examples::test_systemd_unit_verifies",
        "test_examples::test_systemd_unit_starts_exporter",
    ],
    "examples/systemd/sessionwatch-exporter.env": [
        "test_examples::test_systemd_env_file_names_exporter_variables",
        "test_examples::test_systemd_unit_starts_exporter",
    ],
}
# At most this share of blocks may be not-run: the exception, not the rule.
MAX_NOT_RUN_SHARE = 0.3
MIN_REASON_LENGTH = 40
FRONTEND_LANGUAGES = frozenset({"jsx", "tsx"})

ALL_BLOCKS = [block for page in DOC_PAGES for block in code_blocks(page)]


def blocks_of(kind: str) -> list[CodeBlock]:
    return [block for block in ALL_BLOCKS if kind_of(block) == kind]


def kind_of(block: CodeBlock) -> str:
    if block.marker:
        return block.marker
    if block.language in SHELL_LANGUAGES:
        return "shell"
    if block.language in ("promql", "text"):
        return block.language
    return "unmarked"


def ident(block: CodeBlock) -> str:
    return block.ident


# ---- Classification ------------------------------------------------------------------------


def test_doc_blocks_found() -> None:
    assert len(ALL_BLOCKS) >= 40
    assert {kind_of(block) for block in ALL_BLOCKS} >= {"example", "shell", "promql", "not-run"}


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=ident)
def test_doc_block_is_tested_somehow(block: CodeBlock) -> None:
    assert kind_of(block) != "unmarked", (
        f"{block.ident}: a {block.language or 'plain'} block that nothing tests. Make it a "
        "file under examples/ with <!-- example: PATH --> before it, a sh or promql block, "
        "or, for production-only commands, <!-- not-run: REASON -->"
    )


def test_doc_not_run_blocks_are_rare() -> None:
    not_run = blocks_of("not-run")

    assert len(not_run) <= MAX_NOT_RUN_SHARE * len(ALL_BLOCKS), [b.ident for b in not_run]


# ---- Examples ------------------------------------------------------------------------------


@pytest.mark.parametrize("block", blocks_of("example"), ids=ident)
def test_doc_example_block_equals_file(block: CodeBlock) -> None:
    path = REPO / block.marker_value
    assert path.is_file(), f"{block.ident}: {block.marker_value} does not exist"

    assert block.text == path.read_text("utf-8"), (
        f"{block.ident} differs from {block.marker_value}; run "
        ".venv/bin/python -m tests.docs.sync_examples"
    )


@pytest.mark.parametrize("block", blocks_of("example"), ids=ident)
def test_doc_example_file_is_tested(block: CodeBlock) -> None:
    assert block.marker_value in EXAMPLE_TESTS, \
        f"{block.ident}: {block.marker_value} has no test in EXAMPLE_TESTS"


def test_doc_every_example_file_has_tests() -> None:
    on_disk = {relative(path) for path in (REPO / "examples").rglob("*")
               if path.is_file() and not any(part.is_symlink() for part in
                                             [path, *path.parents] if part != REPO)}

    assert sorted(on_disk - set(EXAMPLE_TESTS)) == [], "example files without a test"
    assert sorted(set(EXAMPLE_TESTS) - on_disk) == [], "EXAMPLE_TESTS names missing files"


@pytest.mark.parametrize("example", sorted(EXAMPLE_TESTS))
def test_doc_example_tests_exist(example: str) -> None:
    for name in EXAMPLE_TESTS[example]:
        module_name, function = name.split("::")
        module = importlib.import_module(f"tests.docs.{module_name}")
        assert callable(getattr(module, function, None)), f"{example}: no test {name}"


# ---- Shell and PromQL ----------------------------------------------------------------------


def shell_params() -> list[object]:
    """Return the shell blocks; those that talk to Alertmanager carry the prometheus mark."""
    return [pytest.param(block, id=block.ident,
                         marks=[pytest.mark.prometheus] if "127.0.0.1:9093" in block.text else [])
            for block in blocks_of("shell")]


@pytest.mark.parametrize("block", shell_params())
def test_doc_shell_block_runs(block: CodeBlock, doc_shell: DocShell) -> None:
    if is_benchmark(block):
        assert check_not_run(block) == [], block.ident
        return
    if re.search(r"^\s*sessionwatch-exporter\b(?!.*(--help|\s-h\b))", block.text, re.M):
        metrics = doc_shell.run_server(block, free_port())
        assert "sessionwatch_redis_up 1.0" in metrics, f"{block.ident}: Redis is not readable"
        return

    result = doc_shell.run(block)

    assert result.returncode == 0, (
        f"{block.ident} exited with {result.returncode}\n--- script\n{block.text}"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )


@pytest.mark.prometheus
@pytest.mark.parametrize("block", blocks_of("promql"), ids=ident)
def test_doc_promql_block_returns_data(block: CodeBlock, doc_prometheus: PrometheusServer) -> None:
    # "SITE" is the runbook's placeholder for the reader's own site.
    query = block.text.strip().replace('site="SITE"', 'site="Lyon"')

    result = doc_prometheus.wait_for(query, lambda samples: len(samples) > 0, timeout=60)

    assert result, f"{block.ident}: no data"


# ---- Not run -------------------------------------------------------------------------------


@pytest.mark.parametrize("block", blocks_of("not-run"), ids=ident)
def test_doc_not_run_reason_is_specific(block: CodeBlock) -> None:
    reason = block.marker_value

    assert len(reason) >= MIN_REASON_LENGTH, f"{block.ident}: say why it cannot run here"


@pytest.mark.parametrize("block", [b for b in blocks_of("not-run")
                                   if b.language in SHELL_LANGUAGES], ids=ident)
def test_doc_not_run_shell_commands_exist(block: CodeBlock) -> None:
    assert check_not_run(block) == [], block.ident


@pytest.mark.parametrize("block", [b for b in blocks_of("not-run")
                                   if b.language in FRONTEND_LANGUAGES], ids=ident)
def test_doc_not_run_frontend_code_matches_components(block: CodeBlock) -> None:
    assert check_frontend_snippet(block.text) == [], block.ident


@pytest.mark.parametrize("block", blocks_of("not-run"), ids=ident)
def test_doc_not_run_language_is_checkable(block: CodeBlock) -> None:
    assert block.language in SHELL_LANGUAGES | FRONTEND_LANGUAGES, (
        f"{block.ident}: nothing can check a not-run {block.language!r} block; make it an "
        "example file instead"
    )


def test_doc_page_list_includes_readmes() -> None:
    names = {relative(page) for page in DOC_PAGES}

    assert {"README.md", "README.fr.md", "docs/en/ops.md", "docs/fr/ops.md"} <= names
