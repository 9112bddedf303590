"""The package list of the wheel; everything else is in pyproject.toml.

Every folder of the code (``renkei``, ``simulator``, ``harness``) is a package,
found here, so that a new module, subpackage, template or stylesheet ships
without a line anywhere; pyproject.toml's package data ships every file in
them. The top-level ``scenarios/`` and ``features/`` folders are added by name:
``[tool.setuptools] package-dir`` installs them as ``renkei.scenarios`` and
``renkei.features`` (renkei/resources.py reads them). pyproject.toml cannot
list found packages and mapped ones together, hence this file.
"""

from setuptools import find_namespace_packages, setup

CODE = find_namespace_packages(
    include=["renkei", "renkei.*", "simulator", "simulator.*", "harness", "harness.*"],
    exclude=["*.__pycache__"],
)
DATA = ["renkei.scenarios", "renkei.scenarios.traffic", "renkei.features"]

setup(packages=[*CODE, *DATA])
