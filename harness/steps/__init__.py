"""Step definitions of the features, one module per area; loaded as pytest plugins
by ``features/conftest.py``. They share state through fixtures: the
:class:`~harness.steps.common.Visit` that a 前提 step returns (``target_fixture``)."""
