"""The command's options: help texts, usage in the README, refused combinations, missing
optional dependencies and a reader that stops early."""

from __future__ import annotations

import argparse
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
