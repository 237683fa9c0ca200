"""Errors shared across modules."""


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key and the value."""
