"""The command's options: help texts, usage in the README, refused combinations, missing
optional dependencies and a reader that stops early."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mixedmodels import cli
from mixedmodels.cli import main

ROOT = Path(__file__).resolve().parents[1]
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
POOLING = ["pooling", "sleepstudy", "--response", "Reaction", "--group", "Subject"]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def test_every_option_of_every_subcommand_has_a_help_text() -> None:
    commands = _subcommands()
    assert set(commands) == {"fit", "datasets", "pooling", "type1", "explore"}
    parser = cli._parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    listed = {a.dest: a.help for a in sub._choices_actions}
    for name, command in commands.items():
        assert listed.get(name), f"{name} has no line in 'mixedmodels --help'"
        assert command.description, f"'mixedmodels {name} --help' has no description"
        for action in _options(command):
            label = "/".join(action.option_strings) or action.dest
            assert action.help and action.help.strip(), f"{name} {label} has no help text"


def test_type1_help_describes_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["type1", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for piece in ("clusters per data set", "intraclass correlation", "simulated data sets"):
        assert piece in out
    assert "seed of the simulations" in out and "x varies between clusters" in out


def test_fit_help_says_it_fits_glmms(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = capsys.readouterr().out
    assert "generalized linear mixed model" in " ".join(out.split())
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "fit a linear or generalized linear mixed model" in capsys.readouterr().out


def test_nagq_on_a_linear_mixed_model_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for family in ([], ["--family", "gaussian"], ["--family", "gaussian", "--link", "identity"]):
        args = ["fit", "sleepstudy", "Reaction ~ Days + (1 | Subject)", *family, "--nagq", "5"]
        assert main(args) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("mixedmodels: error: --nagq")
        assert "linear mixed model" in captured.err and captured.err.count("\n") == 1


@pytest.mark.parametrize("family", [[], ["--family", "poisson"]])
def test_a_cbind_response_asks_for_family_binomial(
    family: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fit", "cbpp", CBPP, *family]) == 2
    err = capsys.readouterr().err
    assert "add --family binomial" in err and "only a binomial model reads" in err
    assert "family=" not in err and "mm.glmm" not in err


def test_pooling_trials_asks_for_family_binomial(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["pooling", "hospitals", "--response", "deaths", "--group", "hospital"]
    assert main([*args, "--trials", "patients"]) == 2
    err = capsys.readouterr().err
    assert "--trials" in err and "--family binomial" in err and "trials=" not in err


def _plot_extra() -> str:
    """The optional-dependency group of pyproject.toml that installs matplotlib (read
    with a pattern: tomllib is Python 3.11's and the package supports 3.10)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.optional-dependencies]")[1].split("\n[")[0]
    groups = re.findall(r"^([\w-]+) = \[([^\]]*)\]", section, flags=re.MULTILINE)
    (extra,) = [name for name, deps in groups if name != "test" and '"matplotlib' in deps]
    return extra


def test_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    target = tmp_path / "pooling.png"
    assert main([*POOLING, "--plot", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the work
    assert captured.err == (
        f"mixedmodels: error: --plot needs matplotlib: pip install 'mixedmodels[{_plot_extra()}]'\n"
    )
    assert not target.exists()


def test_plot_without_matplotlib_in_a_fresh_process(tmp_path: Path) -> None:
    """The base install as a user meets it: matplotlib cannot be imported at all."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from mixedmodels.cli import main\n"
        f"sys.exit(main({[*POOLING, '--plot', str(tmp_path / 'x.png')]!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "ModuleNotFoundError" not in out.stderr
    assert f"pip install 'mixedmodels[{_plot_extra()}]'" in out.stderr


@pytest.mark.parametrize(
    "name",
    [
        "pooling",
        "shrinkage_factors",
        "caterpillar",
        "shrinkage_2d",
        "type1_by_icc",
        "residuals",
        "power_curve",
        "simulated_residuals",
    ],
)
def test_figures_without_matplotlib_name_the_extra(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mixedmodels.plot as plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.setitem(sys.modules, "matplotlib.patches", None)
    figure = getattr(plot, name)
    arguments = [object(), None, "x", "g"] if name == "shrinkage_2d" else [object()]
    with pytest.raises(ImportError, match=re.escape(f"mixedmodels[{_plot_extra()}]")):
        figure(*arguments)
