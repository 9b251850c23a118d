"""The documentation site builds strictly (mkdocs-material + mkdocstrings, no network), every page of
the nav is there with the generated CLI and API references, a broken link fails the build (negative
control), and the README is the front door: at most 200 lines, its links into the docs resolve."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=config.parent, capture_output=True, text=True, env=ENV, timeout=600)


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page(tmp_path):
    r = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stderr[-3000:]
    pages = ["index", "families/teams", "families/copi", "families/blur", "families/eprnn", "families/remember",
             "reproducing", "cli", "platform", "extending", "api", "benchmarks", "development"]
    for page in pages:
        path = tmp_path / "site" / ("index.html" if page == "index" else f"{page}/index.html")
        assert path.is_file(), page
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    for command in ("train", "run", "sweep", "evolve-maze", "remember"):
        assert f"usage: plastix {command}" in cli  # generated from the code at build time
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("plastix.families.Family", "plastix.plugins", "plastix.teams.config.TrainConfig"):
        assert name in api, name


@pytest.mark.slow
def test_a_broken_link_fails_the_build(tmp_path):
    """Negative control: the same site with one link to a page that does not exist must not build."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "docs" / "index.md").write_text((ROOT / "docs" / "index.md").read_text()
                                                 + "\nSee [the missing page](families/missing.md).\n")
    config = (ROOT / "mkdocs.yml").read_text()
    config = config.replace("paths: [src]", f"paths: [{ROOT / 'src'}]")
    config = config.replace("- docs_hooks/cli_help.py", f"- {ROOT / 'docs_hooks' / 'cli_help.py'}")
    (tmp_path / "mkdocs.yml").write_text(config)
    r = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0 and "families/missing.md" in r.stderr, r.stderr[-2000:]


def test_readme_is_the_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert {"docs/families/teams.md", "docs/extending.md", "docs/cli.md"} <= set(links)
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, missing
    assert "(in progress)" not in text and "spec §" not in text
