"""The site's navigation (mkdocs.yml) and the pages in docs/ agree: no entry names a
missing file, and no page is left out of the navigation, where a reader could not reach it.
Structural only: it reads the YAML and the file tree, without MkDocs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _config() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert isinstance(config, dict)
    return config


def _nav_files(entry: Any) -> list[str]:
    """Every file a nav entry names: a string, a {title: file} or {title: [entries]}."""
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, list):
        return [name for item in entry for name in _nav_files(item)]
    if isinstance(entry, dict):
        return [name for value in entry.values() for name in _nav_files(value)]
    raise AssertionError(f"unexpected nav entry {entry!r}")


def _is_external(name: str) -> bool:
    return re.match(r"[a-z][a-z0-9+.-]*://", name) is not None


def test_docs_dir_is_docs() -> None:
    assert _config()["docs_dir"] == "docs"


def test_nav_names_existing_pages_once() -> None:
    names = [name for name in _nav_files(_config()["nav"]) if not _is_external(name)]
    missing = [name for name in names if not (DOCS / name).is_file()]
    assert not missing, f"mkdocs.yml's nav names missing files: {missing}"
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"pages listed twice in the nav: {repeated}"


def test_every_page_is_in_the_nav() -> None:
    in_nav = set(_nav_files(_config()["nav"]))
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    left_out = sorted(pages - in_nav)
    assert not left_out, f"pages in docs/ missing from mkdocs.yml's nav: {left_out}"


def _module_file(parts: list[str]) -> tuple[Path, list[str]] | None:
    """The source file of the longest module prefix of a dotted name, and the rest."""
    for i in range(len(parts), 0, -1):
        base = ROOT / "src" / Path(*parts[:i])
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate, parts[i:]
    return None


def test_api_pages_name_defined_objects() -> None:
    """Each reference page documents something, and each ``:::`` line names a module under
    src/ and an object defined in it (not a re-export of the top-level package)."""
    for path in sorted((DOCS / "api").glob("*.md")):
        if path.name == "index.md":
            continue
        targets = re.findall(r"^::: (\S+)$", path.read_text(), flags=re.M)
        assert targets, f"{path.name} has no ::: directive"
        for target in targets:
            found = _module_file(target.split("."))
            assert found is not None, f"{path.name}: no module for {target}"
            source, rest = found
            if rest:
                assert source != ROOT / "src" / "mixedmodels" / "__init__.py", target
                pattern = rf"^(class|def) {re.escape(rest[0])}\b"
                assert re.search(pattern, source.read_text(), flags=re.M), (
                    f"{path.name}: {target} is not defined in {source.relative_to(ROOT)}"
                )
