"""The conformance features, installed as ``renkei.features``.

``renkei conform`` runs them with pytest from wherever renkei is installed
(found through :mod:`renkei.resources`); in a checkout, ``pytest`` collects
them from here (``testpaths`` in ``pyproject.toml``).
"""
