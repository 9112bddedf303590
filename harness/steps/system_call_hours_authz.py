"""Steps of the features system_call_hours_authz (see features/*.feature)."""
