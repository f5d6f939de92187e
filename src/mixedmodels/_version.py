"""The version of mixedmodels, defined here only: ``pyproject.toml`` reads it for the
package's metadata (``[tool.setuptools.dynamic]``) and ``mixedmodels.__version__`` is
this value."""

__version__ = "0.1.0"
