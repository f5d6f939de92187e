"""What starting up imports: ``import mixedmodels``, the command line's ``--help`` and the
explorer's server leave the heavy libraries for the moment they are used, and every public
name is still there. Each check runs in a new interpreter, since this one has imported
everything already. (The times themselves are measured by benchmarks/startup.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mixedmodels as mm

SRC = str(Path(__file__).resolve().parents[1] / "src")
HEAVY = ("scipy", "pandas", "matplotlib", "dash", "plotly", "formulaic", "statsmodels")


def _fresh(code: str) -> str:
    """The standard output of ``code`` run by a new interpreter on this checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _imported_after(statement: str, roots: tuple[str, ...] = HEAVY) -> list[str]:
    """The modules under ``roots`` that ``statement`` imports in a new interpreter."""
    code = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r})))"
    )
    return list(json.loads(_fresh(code).splitlines()[-1]))


def test_import_mixedmodels_imports_no_heavy_library() -> None:
    assert _imported_after("import mixedmodels") == []
    # NumPy too is left for the first model
    assert _imported_after("import mixedmodels", ("numpy",)) == []


def test_the_errors_import_alone() -> None:
    loaded = _imported_after("from mixedmodels.errors import DataError", (*HEAVY, "numpy"))
    assert loaded == []


def test_command_line_help_imports_no_heavy_library() -> None:
    statement = (
        "import contextlib, io\nfrom mixedmodels.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass"
    )
    assert _imported_after(statement, (*HEAVY, "numpy")) == []


def test_the_explorer_server_imports_dash_but_not_the_statistics() -> None:
    loaded = {m.split(".")[0] for m in _imported_after("import mixedmodels.app.server")}
    assert "dash" in loaded  # (the check sees what it should)
    assert loaded.isdisjoint({"scipy", "pandas", "formulaic", "matplotlib", "statsmodels"})


def test_a_linear_mixed_model_fit_leaves_the_test_distributions_unloaded() -> None:
    # scipy.stats is 20 MB of resident memory and a third of a second; a fit needs none
    # of it (its tests load it when they are asked for)
    statement = (
        "import mixedmodels as mm\n"
        "mm.lmm('Reaction ~ Days + (Days | Subject)', mm.datasets.load('sleepstudy'))"
    )
    loaded = _imported_after(statement, ("scipy",))
    assert "scipy.optimize" in loaded  # (the check sees what the fit loads)
    assert [m for m in loaded if m == "scipy.stats" or m.startswith("scipy.stats.")] == []


def test_a_public_name_imports_its_module_on_first_use() -> None:
    assert _imported_after("import mixedmodels as mm\nmm.icc", ("mixedmodels.pooling",)) == []
    loaded = _imported_after("import mixedmodels as mm\nmm.icc", ("mixedmodels",))
    assert "mixedmodels.pooling" in loaded
    assert "mixedmodels.plot" not in loaded and "mixedmodels.app" not in loaded


@pytest.mark.parametrize("name", mm.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(mm, name) is not None
    assert name in dir(mm)


def test_public_names_in_a_new_interpreter() -> None:
    """Each name in ``__all__`` resolves from a package nothing else has imported yet, by
    attribute and by ``from mixedmodels import``; the functions named like subpackages
    stay functions when those subpackages are imported first."""
    code = (
        "import importlib, json\n"
        "for sub in ('lmm', 'glmm', 'gls', 'mmrm', 'pooling'):\n"
        "    importlib.import_module('mixedmodels.' + sub)\n"
        "import mixedmodels as mm\n"
        "from mixedmodels import lmm, datasets, plot\n"
        "kinds = {n: type(getattr(mm, n)).__name__ for n in mm.__all__}\n"
        "print(json.dumps([kinds, sorted(set(mm.__all__) - set(dir(mm))),\n"
        "                  lmm is mm.lmm, datasets.__name__, plot.__name__]))"
    )
    kinds, missing, same, datasets, plot = json.loads(_fresh(code).splitlines()[-1])
    assert missing == []
    assert set(kinds) == set(mm.__all__)
    for name in ("lmm", "glmm", "gls", "mmrm", "pooling"):
        assert kinds[name] == "function", name
    assert kinds["datasets"] == kinds["plot"] == "module"
    assert kinds["LmmResult"] == "type"
    assert same is True
    assert (datasets, plot) == ("mixedmodels.datasets", "mixedmodels.plot")


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'lmer'"):
        mm.lmer  # noqa: B018
    assert not hasattr(mm, "fitting_")
