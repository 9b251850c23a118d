"""mkdocs hook: replaces ``<!-- plastix-help: COMMAND -->`` in a page by ``plastix COMMAND --help`` as
printed by the installed code, so the CLI reference cannot go stale."""

from __future__ import annotations

import contextlib
import io
import os
import re

_MARK = re.compile(r"<!-- plastix-help: ([a-z-]+) -->")


def _help(command: str) -> str:
    from plastix.cli import main

    os.environ["COLUMNS"] = "100"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        main([command, "--help"])
    text = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue()).rstrip()
    if not text:
        raise RuntimeError(f"plastix {command} --help printed nothing")
    return text


def on_page_markdown(markdown: str, **kwargs) -> str:
    return _MARK.sub(lambda m: f"```text\n{_help(m.group(1))}\n```", markdown)
