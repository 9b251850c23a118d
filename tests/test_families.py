"""The family protocol (plastix.families): every experiment belongs to one family, the generic budget
options map onto each family's config or are refused by name, and the command line knows no family."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest

import plastix
from plastix.cli import main
from plastix.validation import ConfigError
from plastix.experiments import EXPERIMENTS, SUITES
from plastix.families import FAMILIES, Budget, Family, all_families, config_type_of, family_of, get_family


def test_every_experiment_and_suite_has_exactly_one_family():
    configs = [t for f in all_families() for t in f.configs]
    assert len(configs) == len(set(configs))  # a config type belongs to one family
    for name, exp in EXPERIMENTS.items():
        assert type(exp.config) in family_of(exp.config).configs, name
    for name, members in SUITES.items():
        families = {family_of(EXPERIMENTS[m].config).name for m in members}
        assert len(families) == 1 and get_family(families.pop()).suite is not None, name


def test_family_registry_errors():
    with pytest.raises(ValueError, match="unknown family 'nope'; allowed: teams, copi"):
        get_family("nope")
    with pytest.raises(TypeError, match="no family takes a dict"):
        family_of({})


# (experiment, budget, option named in the error) for an option the family does not take
REFUSED = [
    ("weight-max/multiplexer20", Budget(epochs=2), "--epochs: only COPI"),
    ("weight-max/multiplexer20", Budget(generations=2), "--generations: only maze"),
    ("coordinated/reinforce-multiplexer11", Budget(episodes=2), "--episodes: .* one-step task; use --steps"),
    ("copi/digits/copi-bp", Budget(steps=2), "--steps: .* measured in epochs"),
    ("eprnn/smoke", Budget(seeds=2), "--seeds: maze experiments are measured in generations"),
    ("remember/recall", Budget(generations=2), "--generations: remember experiments are measured in meta-steps"),
    ("remember/recall", Budget(seeds=2), "--seeds: remember experiments run one seed"),
    ("blur/smoke", Budget(steps=2), "--steps: BLUR CMA-ES experiments are measured in generations"),
    ("blur/gradient-smoke", Budget(generations=2), "--generations: BLUR gradient experiments .* meta-steps"),
    ("blur/gradient-smoke", Budget(data_dir="/x"), "--data-dir: BLUR gradient"),
    ("eprnn/smoke", Budget(generations=-1), "--generations: must be ≥ 0"),
]


@pytest.mark.parametrize("name,budget,message", REFUSED)
def test_budget_options_a_family_does_not_take_are_refused_by_name(name, budget, message):
    exp = EXPERIMENTS[name]
    with pytest.raises(ConfigError, match=message):
        family_of(exp.config).budget(name, exp.config, budget)


@pytest.mark.parametrize("name,budget,field,value", [
    ("weight-max/multiplexer20", Budget(seeds=3, steps=100), "steps", 100),
    ("copi/digits/copi-bp", Budget(epochs=1), "epochs", 1),
    ("eprnn/smoke", Budget(generations=2), "generations", 2),
    ("remember/recall", Budget(steps=5), "steps", 5),
    ("blur/smoke", Budget(generations=3), "generations", 3),
    ("blur/gradient-smoke", Budget(steps=2), "stage_steps", 2),
])
def test_budget_options_map_onto_the_config(name, budget, field, value):
    exp = EXPERIMENTS[name]
    cfg = family_of(exp.config).budget(name, exp.config, budget)
    assert getattr(cfg, field) == value and type(cfg) is type(exp.config)
    assert family_of(exp.config).budget(name, exp.config, Budget()) == exp.config  # nothing given: the experiment's


def test_a_run_directory_config_is_recognised_by_its_fields():
    for family in all_families():
        for t in family.configs:
            fields = json.loads(json.dumps(dataclasses.asdict(t())))
            assert config_type_of(fields) is t
            # an older run directory lacking one field is still recognised
            assert config_type_of({k: v for k, v in list(fields.items())[1:]}) is t


def test_cli_dispatches_on_no_config_type():
    """cli.py names no family's config beyond the two commands built on them (train, copi), and holds
    no per-family helpers; the negative control is the family modules, which must name their configs."""
    def config_names(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "isinstance"]
        return {ast.unparse(c.args[1]) for c in calls}

    src = Path(plastix.__file__).parent
    assert not {n for n in config_names(src / "cli.py") if "Config" in n}
    assert not [n for n in ast.parse((src / "cli.py").read_text()).body
                if isinstance(n, ast.FunctionDef) and n.name.endswith(("_overrides", "_suite")) or
                isinstance(n, ast.FunctionDef) and n.name.startswith("_report")]
    for module in FAMILIES.values():
        text = (src.parent / (module.replace(".", "/") + ".py")).read_text()
        assert "Config" in text and "FAMILY = Family(" in text


def test_a_new_family_is_one_module_and_one_registry_line(tmp_path, monkeypatch, capsys):
    """A toy family registered from a module of its own shows in `plastix list` and runs its experiment
    through `plastix run` with no change to the command line."""
    (tmp_path / "toyfam.py").write_text('''
import dataclasses, json
from pathlib import Path
from plastix.validation import ConfigIO
from plastix.families import Budget, Family
from plastix.rundir import RunResult

@dataclasses.dataclass(frozen=True)
class ToyConfig(ConfigIO):
    steps: int = 3
    seed: int = 0
    name: str = "toy"
    @property
    def run_name(self): return self.name
    def validate(self): return self

def run(cfg, out, *, progress=True, resume=True):
    d = Path(out) / cfg.run_name
    d.mkdir(parents=True)
    summary = {"final_count": float(cfg.steps)}
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    return RunResult(d, None, summary, 0.0)

def budget(name, cfg, b):
    b.refuse(("steps",), "toy experiments are measured in steps")
    return dataclasses.replace(cfg, steps=b.steps or cfg.steps)

FAMILY = Family(name="toy", summary="a toy family", configs=(ToyConfig,), run=run,
                report=lambda res: print("toy counted", res.summary["final_count"]), budget=budget,
                rule=lambda c: "count", task=lambda c: "toy", curves={})
''')
    monkeypatch.syspath_prepend(str(tmp_path))
    import toyfam

    from plastix.experiments import Experiment

    monkeypatch.setitem(FAMILIES, "toy", "toyfam")
    monkeypatch.setitem(EXPERIMENTS, "toy/count", Experiment(toyfam.ToyConfig(), "count", "none", "none"))
    assert isinstance(get_family("toy"), Family)
    assert main(["list"]) == 0
    assert "toy " in capsys.readouterr().out
    assert main(["run", "toy/count", "--steps", "7", "--out", str(tmp_path / "runs")]) == 0
    assert "toy counted 7.0" in capsys.readouterr().out
    assert main(["run", "toy/count", "--epochs", "2", "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.strip() == "plastix: error: --epochs: toy experiments are measured in steps"


@pytest.mark.filterwarnings("ignore:.*diverged:UserWarning")  # COPI-FA diverges on digits, as in the reference
def test_a_suite_runs_through_its_family(tmp_path, capsys):
    assert main(["run", "copi/digits", "--epochs", "1", "--seeds", "1", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| BP (Adam) |" in out and (tmp_path / "copi-digits-comparison" / "comparison.csv").is_file()
    assert main(["run", "copi/digits", "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()  # refused before anything is written
