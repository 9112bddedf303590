"""The features run with the harness's plugin and step modules (``harness/``)."""

pytest_plugins = [
    "harness.plugin",
    "harness.steps.common",
    "harness.steps.input_host_account",
    "harness.steps.system_call_hours_authz",
]
