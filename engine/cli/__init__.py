"""The ``v2a`` command line."""
