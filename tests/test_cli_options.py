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


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    spans = re.findall(r"`(mixedmodels\s[^`]+)`", text)
    return [" ".join(s.split()) for s in spans if "--help" not in s]


def test_readme_usage_matches_the_parser() -> None:
    """Every command the README shows names each required argument of its subcommand
    and only options that the subcommand has."""
    commands = _subcommands()
    shown = _readme_commands()
    assert {c.split()[1] for c in shown} >= {"fit", "pooling", "type1", "explore"}
    for snippet in shown:
        name = snippet.split()[1]
        assert name in commands, snippet
        options = {o for a in _options(commands[name]) for o in a.option_strings}
        for action in _options(commands[name]):
            if action.option_strings and action.required:
                assert action.option_strings[0] in snippet, (snippet, action.option_strings)
            elif not action.option_strings:
                assert action.dest.upper() in snippet.split(), (snippet, action.dest)
        for word in re.findall(r"--[a-z][a-z0-9-]*", snippet):
            assert word in options, (snippet, word)


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


@pytest.mark.parametrize(
    "arguments",
    [
        ["fit", "Dyestuff", "Yield ~ 1 + (1 | Batch)", "--json"],
        ["datasets"],
        ["fit", "sleepstudy", "Reaction ~ Days + (1 | Subject)", "--ml", "--json"],
    ],
)
def test_json_to_a_reader_that_stops_early_ends_quietly(arguments: list[str]) -> None:
    """``mixedmodels fit ... --json | head -1`` whose reader has gone before the output is
    written: no BrokenPipeError traceback, exit status 0 (the documented 'done')."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixedmodels.cli", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err


def test_json_into_a_shell_pipeline_whose_reader_has_gone() -> None:
    """The same through a shell: ``true`` exits without reading, long before the fit is
    written; the command's exit status (bash's PIPESTATUS) is 0 and stderr stays empty."""
    command = (
        f"'{sys.executable}' -m mixedmodels.cli fit Dyestuff 'Yield ~ 1 + (1 | Batch)' --json"
        " | true; echo ${PIPESTATUS[0]}"
    )
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "0"
    assert out.stderr == ""


def test_documented_exit_statuses_hold(capsys: pytest.CaptureFixture[str]) -> None:
    """The help's exit statuses are the README's; 2 also for options argparse refuses."""
    block = cli.FORMULA_HELP.split("exit status:")[1]
    codes = [int(c) for c in re.findall(r"^\s+(\d+)\s", block, flags=re.MULTILINE)]
    assert codes == [0, 2, 130]
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    sentence = readme.split("Exit status:")[1].split(".")[0]
    assert [int(c) for c in re.findall(r"\b(\d+)\b", sentence)] == codes
    with pytest.raises(SystemExit) as exit_:
        main(["type1", "--sims", "many"])
    assert exit_.value.code == 2
    assert "invalid int value" in capsys.readouterr().err
    assert main(["fit", "sleepstudy", "Reaction ~ 1"]) == 2
    assert capsys.readouterr().err.startswith("mixedmodels: error:")
