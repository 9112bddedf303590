"""The features run with the harness's plugin and step modules (``harness/``)."""

pytest_plugins = [
    "harness.plugin",
    # Steps every feature uses, then one module per feature area (the helpers they
    # share are plain functions in harness.steps.helpers, not a plugin).
    "harness.steps.screens",
    "harness.steps.account",
    "harness.steps.authz",
    "harness.steps.call",
    "harness.steps.flow",
    "harness.steps.host",
    "harness.steps.hours",
    "harness.steps.input",
    "harness.steps.system",
    "harness.steps.platform",
    "harness.steps.banks",
    "harness.steps.pages",
]
