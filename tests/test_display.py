"""Reports of fits and test tables: Markdown, LaTeX and notebook HTML."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

# -- reading the output ----------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    """A pipe-table row's cells (pipes escaped as ``\\|`` belong to the cell)."""
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def pipe_tables(markdown: str) -> list[list[list[str]]]:
    """Every pipe table in ``markdown`` (header row first, separator dropped), checked
    to be well formed: a separator line under the header, the same number of cells on
    every row."""
    blocks: list[list[str]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                blocks.append([])
            blocks[-1].append(line)
        previous = line
    tables = []
    for block in blocks:
        assert len(block) >= 2, block
        assert re.fullmatch(r"\|(:?-{3,}:?\|)+", block[1]), block[1]
        rows = [_cells(line) for line in block[:1] + block[2:]]
        width = len(rows[0])
        assert _cells(block[1].replace("-", " ")) and block[1].count("|") == width + 1
        assert all(len(r) == width for r in rows), rows
        tables.append(rows)
    return tables


def cell(table: list[list[str]], row: str, column: str) -> str:
    """The cell of the row whose first cell is ``row``, under the header ``column``."""
    header = table[0]
    (match,) = [r for r in table[1:] if r[0] == row]
    return match[header.index(column)]


def table_with(tables: list[list[list[str]]], header: str) -> list[list[str]]:
    (found,) = [t for t in tables if header in t[0]]
    return found


def assert_latex_balanced(latex: str, n_tables: int) -> None:
    assert latex.count(r"\begin{tabular}") == latex.count(r"\end{tabular}") == n_tables
    assert latex.index(r"\begin{tabular}") < latex.index(r"\end{tabular}")
    unescaped = re.sub(r"\\[{}]", "", latex)
    assert unescaped.count("{") == unescaped.count("}")


# -- fits ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    data = mm.datasets.load("sleepstudy")
    return data.rename(columns={"Reaction": "reaction_ms", "Days": "days_n", "Subject": "subj"})


@pytest.fixture(scope="module")
def fit(sleep: pd.DataFrame) -> mm.LmmResult:
    return mm.lmm("reaction_ms ~ days_n + (days_n | subj)", sleep)


@pytest.fixture(scope="module")
def cbpp_fit() -> mm.GlmmResult:
    cbpp = mm.datasets.load("cbpp")
    return mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
    )


@pytest.fixture(scope="module")
def odd_names(sleep: pd.DataFrame) -> mm.LmmResult:
    """A fit whose fixed-effect names hold HTML, LaTeX and Markdown markup."""
    data = sleep.copy()
    levels = ["plain", "<b>x</b>", "a&b", "50%", "#1", "a|b"]
    codes = np.arange(len(data)) % len(levels)
    data["arm_type"] = pd.Categorical(np.array(levels, dtype=object)[codes], categories=levels)
    return mm.lmm("reaction_ms ~ days_n + arm_type + (1 | subj)", data)


# -- fit reports -----------------------------------------------------------------------------


def test_lmm_markdown_holds_the_fits_numbers(fit: mm.LmmResult) -> None:
    md = fit.to_markdown()
    assert "reaction_ms ~ days_n + (days_n | subj)" in md
    assert f"REML criterion at convergence: {fit.objective:.1f}" in md
    assert "Number of obs: 180, groups: subj, 18" in md
    tables = pipe_tables(md)
    assert len(tables) == 2
    random, fixed = table_with(tables, "Groups"), table_with(tables, "Estimate")
    assert random[0] == ["Groups", "Name", "Variance", "Std.Dev.", "Corr"]
    assert cell(random, "Residual", "Variance") == f"{fit.sigma**2:.4g}"
    assert cell(random, "Residual", "Std.Dev.") == f"{fit.sigma:.4g}"
    assert cell(random, "", "Corr") == f"{fit.varcorr['sd_cor'].iloc[2]:.2f}"
    coef = fit.coef_table()
    assert cell(fixed, "days_n", "Estimate") == f"{fit.fixef['days_n']:.4g}"
    assert cell(fixed, "days_n", "Std. Error") == f"{coef.loc['days_n', 'std_error']:.4g}"
    assert cell(fixed, "days_n", "df") == f"{coef.loc['days_n', 'df']:.4g}"
    assert cell(fixed, "days_n", "t value") == f"{coef.loc['days_n', 'statistic']:.4g}"
    assert cell(fixed, "days_n", "Pr(>\\|t\\|)") == f"{coef.loc['days_n', 'p_value']:.3e}"
    assert cell(fixed, "(Intercept)", "Pr(>\\|t\\|)") == "<2e-16"


def test_digits_change_the_numbers(fit: mm.LmmResult) -> None:
    short, long = fit.to_markdown(digits=3), fit.to_markdown(digits=7)
    estimate = fit.fixef["days_n"]
    assert f"| {estimate:.3g} |" in short and f"{estimate:.7g}" not in short
    assert f"| {estimate:.7g} |" in long
    assert f"{fit.sigma:.7g}" in long
    assert f"{fit.objective:.4f}" in long  # criteria to digits - 3 decimals
    assert pipe_tables(long) and pipe_tables(short)


def test_ml_fit_shows_its_criteria(fit: mm.LmmResult) -> None:
    ml = fit.refit_ml()
    criteria = table_with(pipe_tables(ml.to_markdown()), "AIC")
    assert criteria[0] == ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    assert criteria[1] == [
        f"{ml.aic:.1f}",
        f"{ml.bic:.1f}",
        f"{ml.loglik:.1f}",
        f"{ml.objective:.1f}",
        str(ml.nobs - ml.n_params),
    ]
    assert "maximum likelihood" in ml.to_markdown()


def test_glmm_markdown_holds_the_fits_numbers(cbpp_fit: mm.GlmmResult) -> None:
    md = cbpp_fit.to_markdown()
    assert "Family: binomial (logit)" in md and "Laplace" in md
    assert "Number of obs: 56, groups: herd, 15" in md
    tables = pipe_tables(md)
    assert len(tables) == 3
    criteria = table_with(tables, "AIC")
    assert criteria[1][:3] == [
        f"{cbpp_fit.aic:.1f}",
        f"{cbpp_fit.bic:.1f}",
        f"{cbpp_fit.loglik:.1f}",
    ]
    random = table_with(tables, "Groups")
    assert cell(random, "herd", "Variance") == f"{cbpp_fit.varcorr['variance'].iloc[0]:.4g}"
    fixed = table_with(tables, "Estimate")
    assert fixed[0] == ["", "Estimate", "Std. Error", "z value", "Pr(>\\|z\\|)"]  # no df
    coef = cbpp_fit.coef_table()
    name = "period[T.2]"
    assert cell(fixed, name, "Estimate") == f"{coef.loc[name, 'estimate']:.4g}"
    assert cell(fixed, name, "z value") == f"{coef.loc[name, 'statistic']:.4g}"
    assert cell(fixed, name, "Pr(>\\|z\\|)") == f"{coef.loc[name, 'p_value']:.4g}"


def test_latex_is_balanced_and_escaped(fit: mm.LmmResult, cbpp_fit: mm.GlmmResult) -> None:
    latex = fit.to_latex()
    assert_latex_balanced(latex, 2)
    assert r"reaction\_ms \textasciitilde{} days\_n + (days\_n \textbar{} subj)" in latex
    assert r"days\_n & " + f"{fit.fixef['days_n']:.4g} & " in latex
    assert "days_n" not in latex and "reaction_ms" not in latex
    assert r"Pr(\textgreater{}\textbar{}t\textbar{})" in latex
    assert_latex_balanced(cbpp_fit.to_latex(), 3)
    assert r"period{[}T.2{]}" in cbpp_fit.to_latex()


def test_special_characters_in_names(odd_names: mm.LmmResult) -> None:
    latex = odd_names.to_latex()
    assert_latex_balanced(latex, 2)
    for escaped in (r"arm\_type{[}T.a\&b{]}", r"arm\_type{[}T.50\%{]}", r"arm\_type{[}T.\#1{]}"):
        assert escaped in latex
    assert not re.search(r"(?<!\\)[%#_]", latex)
    assert r"arm\_type{[}T.\textless{}b\textgreater{}x\textless{}/b\textgreater{}{]}" in latex

    html = odd_names._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "a&amp;b" in html
    assert "<b>x</b>" not in html and "a&b" not in html

    md = odd_names.to_markdown()
    fixed = table_with(pipe_tables(md), "Estimate")
    assert len(fixed) == 1 + odd_names.beta.size  # the pipe in "a|b" did not split a row
    assert "<b>x</b>" not in md and r"\<b>x\</b>" in md and r"a\|b" in md


def test_notebook_view(fit: mm.LmmResult, cbpp_fit: mm.GlmmResult) -> None:
    html = fit._repr_html_()
    assert html.count("<table>") == 2 and html.count("</table>") == 2
    assert "reaction_ms ~ days_n + (days_n | subj)" in html
    assert f"{fit.fixef['days_n']:.4g}" in html
    glmm_html = cbpp_fit._repr_html_()
    assert glmm_html.count("<table>") == 3 and "binomial" in glmm_html


def test_summary_stays_text(fit: mm.LmmResult) -> None:
    text = fit.summary()
    assert "|" not in text.split("Random effects:")[1].split("Number of obs")[0].replace(" ", "")
    assert f"{fit.fixef['days_n']:.4f}" in text


# -- test tables -----------------------------------------------------------------------------


def test_test_tables_are_data_frames(fit: mm.LmmResult, cbpp_fit: mm.GlmmResult) -> None:
    tables = [fit.coef_table(), fit.anova(), cbpp_fit.coef_table(), cbpp_fit.anova()]
    for table in tables:
        assert isinstance(table, pd.DataFrame) and isinstance(table, mm.ResultTable)
        pd.testing.assert_frame_equal(table, pd.DataFrame(table), check_frame_type=False)
    coef = fit.coef_table()
    assert coef.loc["days_n", "estimate"] == pytest.approx(fit.fixef["days_n"])
    assert coef.iloc[1, 0] == coef.loc["days_n", "estimate"]
    assert isinstance(coef[["estimate", "p_value"]], mm.ResultTable)
    assert (coef["p_value"] < 0.05).all()
    assert list(fit.anova().columns) == ["numdf", "dendf", "F", "p_value"]


def test_anova_markdown_and_latex(fit: mm.LmmResult, cbpp_fit: mm.GlmmResult) -> None:
    table = fit.anova()
    (md,) = pipe_tables(table.to_markdown())
    assert md[0] == ["term", "numdf", "dendf", "F", "p_value"]
    assert cell(md, "days_n", "F") == f"{table.loc['days_n', 'F']:.4g}"
    assert cell(md, "days_n", "dendf") == f"{table.loc['days_n', 'dendf']:.4g}"
    (md6,) = pipe_tables(table.to_markdown(digits=6))
    assert cell(md6, "days_n", "F") == f"{table.loc['days_n', 'F']:.6g}"
    assert_latex_balanced(table.to_latex(), 1)
    assert r"days\_n" in table.to_latex()

    chisq = cbpp_fit.anova()
    (md,) = pipe_tables(chisq.to_markdown())
    assert cell(md, "period", "chisq") == f"{chisq.loc['period', 'chisq']:.4g}"
    assert cell(md, "period", "df") == "3"
    assert "Type III Wald" in chisq._repr_html_()


def test_coef_table_renders_p_values(fit: mm.LmmResult) -> None:
    coef = fit.coef_table()
    (md,) = pipe_tables(coef.to_markdown())
    assert cell(md, "(Intercept)", "p_value") == "<2e-16"
    assert cell(md, "days_n", "lower") == f"{coef.loc['days_n', 'lower']:.4g}"
    assert "Satterthwaite" in coef._repr_html_()
    assert "Kenward-Roger" in fit.coef_table(ddf="kenward-roger")._repr_html_()


def test_likelihood_ratio_table(sleep: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = mm.lmm("reaction_ms ~ days_n + (1 | subj)", sleep)
        large = mm.lmm("reaction_ms ~ days_n + (days_n | subj)", sleep)
    table = mm.anova(small, large)
    assert isinstance(table, pd.DataFrame) and isinstance(table, mm.ResultTable)
    note = table.attrs["note"]
    assert "refitted by maximum likelihood" in note
    assert isinstance(table.loc[:, ["chisq"]], mm.ResultTable)

    md = table.to_markdown()
    (rows,) = pipe_tables(md)
    assert len(rows) == 3
    first, second = rows[1], rows[2]
    header = rows[0]
    assert first[header.index("chisq")] == "" and first[header.index("p_value")] == ""
    assert second[header.index("chisq")] == f"{table['chisq'].iloc[1]:.4g}"
    assert second[0] == "reaction_ms ~ days_n + (days_n \\| subj)"
    assert md.endswith(note)

    latex = table.to_latex()
    assert_latex_balanced(latex, 1)
    assert r"{\footnotesize REML fits were refitted" in latex

    html = table._repr_html_()
    assert "Likelihood-ratio tests" in html and f"<small>{note}</small>" in html
    assert html.count("<tr>") == 3


def test_html_of_tables_escapes_names(odd_names: mm.LmmResult) -> None:
    html = odd_names.coef_table()._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    (md,) = pipe_tables(odd_names.anova().to_markdown())
    assert [r[0] for r in md[1:]] == ["days_n", "arm_type"]
