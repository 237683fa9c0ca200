"""Text sources and the mixer that turns their output into labels."""
