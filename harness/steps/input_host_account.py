"""Steps of the features input_host_account (see features/*.feature)."""
