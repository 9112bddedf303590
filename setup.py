"""The package list of the wheel; everything else is in pyproject.toml.

The code packages are found (so that a new subpackage ships without a line
here); the data packages are the top-level ``scenarios/`` and ``features/``
folders, which ``[tool.setuptools] package-dir`` installs as
``renkei.scenarios`` and ``renkei.features`` (renkei/resources.py reads them).
pyproject.toml cannot list found packages and mapped ones together, hence this
file.
"""

from setuptools import find_packages, setup

CODE = find_packages(
    include=["renkei", "renkei.*", "simulator", "simulator.*", "harness", "harness.*"]
)
DATA = ["renkei.scenarios", "renkei.features"]

setup(packages=[*CODE, *DATA])
