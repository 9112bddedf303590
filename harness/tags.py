"""The tags of the feature files (``@R-FLOW-7``, ``@flow``), read without pytest.

``harness.plugin`` registers them as pytest markers; ``renkei conform`` checks a
``--tags`` expression against them before it starts pytest. Kept apart from the
plugin so that the ``renkei`` command, which imports ``renkei conform``, does
not import pytest to serve a bank.
"""

from __future__ import annotations

import re
from pathlib import Path

from renkei import resources

FEATURES = resources.features()
TAG = re.compile(r"(?<!\S)@([^\s@]+)")


def feature_tags(folder: Path = FEATURES) -> set[str]:
    """Every tag written in the feature files of ``folder``."""
    tags: set[str] = set()
    for path in folder.glob("*.feature"):
        for line in path.read_text("utf-8").splitlines():
            if line.strip().startswith("@"):
                tags.update(TAG.findall(line))
    return tags
