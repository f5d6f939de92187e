"""The version is defined once, in ``mixedmodels/_version.py``: the package's metadata
(what ``importlib.metadata`` and pip report) and ``mixedmodels.__version__`` read it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mixedmodels

ROOT = Path(__file__).resolve().parents[1]
VERSION_FILE = Path(mixedmodels.__file__).with_name("_version.py")


def _defined_version(path: Path) -> str:
    """The string assigned to ``__version__`` in ``path``, read without importing it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == [
            "__version__"
        ]:
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            return node.value.value
    raise AssertionError(f"{path} assigns no __version__")


def _metadata_version(project: Path, tmp_path: Path) -> str:
    """The version setuptools writes into the metadata of ``project`` (as ``pip install``
    would), read back with importlib.metadata."""
    import setuptools  # noqa: F401 - the build backend (in the test extra)

    egg_base = tmp_path / "egg"
    egg_base.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "from setuptools import setup; setup()"]
        + ["-q", "egg_info", "--egg-base", str(egg_base)],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (info,) = egg_base.glob("*.egg-info")
    return str(importlib.metadata.PathDistribution(info).version)


def test_the_package_version_is_the_one_in_version_py() -> None:
    assert mixedmodels.__version__ == _defined_version(VERSION_FILE)
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*(\.dev\d+)?", mixedmodels.__version__)


def test_pyproject_reads_the_version_instead_of_repeating_it() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]")[1].split("\n[")[0]
    assert not re.search(r"(?m)^version\s*=", project), "a second, static version"
    assert re.search(r'(?m)^dynamic\s*=\s*\[[^\]]*"version"', project)
    assert 'version = { attr = "mixedmodels._version.__version__" }' in text


def test_metadata_built_from_this_checkout_matches(tmp_path: Path) -> None:
    """Built from this checkout, the metadata carries ``mixedmodels.__version__``; built
    from a copy whose ``_version.py`` says otherwise, it follows the file."""
    assert _metadata_version(ROOT, tmp_path) == mixedmodels.__version__
    copy = tmp_path / "copy"
    (copy / "src" / "mixedmodels").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copy(ROOT / "src/mixedmodels/__init__.py", copy / "src/mixedmodels/__init__.py")
    (copy / "src/mixedmodels/_version.py").write_text('__version__ = "9.8.7"\n')
    assert _metadata_version(copy, tmp_path / "second") == "9.8.7"


def test_installed_metadata_matches_the_package() -> None:
    """``importlib.metadata.version("mixedmodels")`` is ``mixedmodels.__version__``: the
    README's commands install the package, and its metadata carries the one version."""
    try:
        installed = importlib.metadata.version("mixedmodels")
    except importlib.metadata.PackageNotFoundError:
        raise AssertionError("mixedmodels is not installed: pip install -e .") from None
    assert installed == mixedmodels.__version__
