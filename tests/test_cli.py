"""The mixedmodels command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mixedmodels.cli import main


def test_fit_prints_the_summary(capsys) -> None:
    assert main(["fit", "sleepstudy", "Reaction ~ Days + (Days | Subject)"]) == 0
    out = capsys.readouterr().out
    assert "REML criterion at convergence: 1743.6283" in out
    assert "Days" in out and "Subject" in out


def test_fit_json_and_ml(capsys) -> None:
    assert main(["fit", "Dyestuff", "Yield ~ 1 + (1 | Batch)", "--ml", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reml"] is False
    assert out["objective"] == pytest.approx(327.327059881135, abs=1e-4)  # lme4's deviance


def test_fit_reads_csv_and_parquet(tmp_path, capsys) -> None:
    import mixedmodels as mm

    data = mm.datasets.load("sleepstudy")
    csv = tmp_path / "sleep.csv"
    data.to_csv(csv, index=False)
    assert main(["fit", str(csv), "Reaction ~ Days + (1 | Subject)", "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    pq = tmp_path / "sleep.parquet"
    data.to_parquet(pq)
    assert main(["fit", str(pq), "Reaction ~ Days + (1 | Subject)", "--json"]) == 0
    b = json.loads(capsys.readouterr().out)
    assert a["objective"] == pytest.approx(b["objective"], abs=1e-8)


def test_errors_are_one_line_messages_without_traceback(capsys) -> None:
    assert main(["fit", "sleepstudy", "Reaction ~ Dayz + (1 | Subject)"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mixedmodels: error:") and "'Dayz'" in err
    assert "Traceback" not in err
    assert main(["fit", "no_such_data", "y ~ 1 + (1 | g)"]) == 2
    assert "neither a file nor a shipped data set" in capsys.readouterr().err


def test_singular_fit_warning_goes_to_stderr(capsys) -> None:
    assert main(["fit", "Dyestuff2", "Yield ~ 1 + (1 | Batch)"]) == 0
    captured = capsys.readouterr()
    assert "boundary (singular) fit" in captured.err


def test_help_explains_the_formula_language() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mixedmodels.cli", "fit", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for piece in ("(x || g)", "(1 | a/b)", "I(x^2)", "offset(", "--ml", "--json"):
        assert piece in out


def test_datasets_lists_sources(capsys) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "sleepstudy" in out and "Belenky" in out


def test_fit_glmm_with_quadrature(capsys) -> None:
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    assert main(["fit", "cbpp", formula, "--family", "binomial", "--nagq", "25", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["family"] == "binomial" and out["nagq"] == 25
    assert out["theta"]["herd.(Intercept)"] == pytest.approx(0.647519914522493, rel=1e-3)


def test_glmm_errors_are_messages(capsys) -> None:
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    assert main(["fit", "cbpp", formula, "--family", "poisson"]) == 2
    assert "only a binomial model reads" in capsys.readouterr().err


def test_pooling_and_type1_commands(capsys) -> None:
    assert (
        main(
            [
                "pooling",
                "hospitals",
                "--response",
                "deaths",
                "--group",
                "hospital",
                "--family",
                "binomial",
                "--trials",
                "patients",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "partial_pooling" in out and "ICC" in out
    assert main(["type1", "--sims", "20", "--seed", "1", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "ols" in out and "design effect 1.9" in out
    assert main(["type1", "--icc", "1.5", "--sims", "5"]) == 2
    assert "ICC must lie in" in capsys.readouterr().err


def test_fit_gamma_glmm_reports_its_dispersion(capsys) -> None:
    """--family Gamma fits the exact Laplace GLMM of the reference (gamma_log)."""
    from lme4_reference import REFERENCE, load_reference

    ref = load_reference("gamma_log")
    data = str(REFERENCE / "data" / "gammasim.csv")
    args = ["fit", data, ref["formula"], "--family", "Gamma", "--link", "log", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["family"] == "Gamma" and out["link"] == "log"
    assert out["dispersion"] == pytest.approx(ref["laplace"]["dispersion"], rel=2e-3)
    assert main(["fit", data, "y ~ x + (1 | g)", "--family", "Gamma"]) == 0
    assert "Dispersion (sigma)" in capsys.readouterr().out


def test_fit_beta_with_a_dispersion_model(capsys: pytest.CaptureFixture[str]) -> None:
    """--family beta with --dispersion: the JSON carries the dispersion model's
    coefficients and one sigma() per row."""
    args = ["fit", "betasim", "yd ~ x + trt + (1 | g)", "--family", "beta"]
    assert main([*args, "--dispersion", "~ trt + x", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["family"] == "beta" and set(out["disp_fixef"]) == {"(Intercept)", "trt[T.trt]", "x"}
    assert len(out["dispersion"]) == 548
    assert main([*args, "--dispersion", "~ nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_fit_zero_inflated_counts(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fit", "Salamanders", "count ~ mined + (1 | site)", "--family", "poisson"]
    assert main([*args, "--zi", "~ mined", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["zi_fixef"]) == {"(Intercept)", "mined[T.no]"}


def test_output_cut_short_by_its_reader_ends_quietly() -> None:
    """``mixedmodels fit ... | head -1``: no BrokenPipeError traceback, exit status 0."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mixedmodels.cli",
            "fit",
            "sleepstudy",
            "Reaction ~ Days + (Days | Subject)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before the summary is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_latin1_csv_is_read(tmp_path, capsys) -> None:
    """A CSV saved as Latin-1 (Windows' text) gives the fit of the same data in UTF-8."""
    import mixedmodels as mm

    data = mm.datasets.load("sleepstudy")
    data["Subject"] = "sujet_é" + data["Subject"].astype(str)
    data.to_csv(tmp_path / "utf8.csv", index=False)
    data.to_csv(tmp_path / "latin1.csv", index=False, encoding="latin-1")
    formula = "Reaction ~ Days + (Days | Subject)"
    assert main(["fit", "--json", str(tmp_path / "utf8.csv"), formula]) == 0
    utf8 = json.loads(capsys.readouterr().out)
    assert main(["fit", "--json", str(tmp_path / "latin1.csv"), formula]) == 0
    latin1 = json.loads(capsys.readouterr().out)
    assert latin1["fixef"] == utf8["fixef"]
    assert latin1["theta"] == utf8["theta"]
    assert latin1["ngroups"] == utf8["ngroups"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["fit", "{tmp}/bad.parquet", "y ~ x + (1 | g)"], "cannot read .*bad.parquet as Parquet"),
        (["fit", "{tmp}", "y ~ x + (1 | g)"], "is a folder, not a data file"),
        (
            [
                "pooling",
                "sleepstudy",
                "--response",
                "Reaction",
                "--group",
                "Subject",
                "--plot",
                "{tmp}/no/such/x.png",
            ],
            "the folder .* does not exist",
        ),
    ],
)
def test_file_errors_are_messages(tmp_path, capsys, arguments: list[str], message: str) -> None:
    import re

    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_the_module_runs_every_command() -> None:
    """``python -m mixedmodels.cli explore`` reaches the explorer's own checks (its
    function is defined before the module's main block runs)."""
    out = subprocess.run(
        [sys.executable, "-m", "mixedmodels.cli", "explore", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "--port must be 1-65535" in out.stderr
    assert "Traceback" not in out.stderr


def test_ctrl_c_is_exit_status_130_with_a_message(monkeypatch, capsys) -> None:
    from mixedmodels import fitting
    from mixedmodels.core.progress import FitInterrupted

    def interrupted(*args: object, **kwargs: object) -> None:
        raise FitInterrupted("the fit was interrupted after 12 evaluations in 3 s")

    monkeypatch.setattr(fitting, "lmm", interrupted)  # the command imports it when it runs
    assert main(["fit", "sleepstudy", "Reaction ~ Days + (1 | Subject)"]) == 130
    err = capsys.readouterr().err
    assert "mixedmodels: interrupted: the fit was interrupted after 12 evaluations" in err
    assert "Traceback" not in err
    out = subprocess.run(
        [sys.executable, "-m", "mixedmodels.cli", "--help"], capture_output=True, text=True
    )
    assert "130  interrupted" in out.stdout
