"""The README's quickstart runs as written and prints what the README promises."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_block_runs(capsys):
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README-quickstart", "exec"), scope)
    acc = np.asarray(scope["metrics"]["accuracy"][:, -50:].mean(axis=1))
    assert acc.shape == (3,) and np.all(acc > 0.8), acc  # the README says ≈ 0.87–0.90
    assert "final accuracy per seed" in capsys.readouterr().out


def test_readme_opens_with_the_two_commands():
    lines = [l for l in README.read_text().splitlines() if l.startswith("make ")]
    assert lines[:2] and lines[0].startswith("make demo") and lines[1].startswith("make test")
