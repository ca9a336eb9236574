"""Shared fixtures. The helpers live in ``media_helpers`` (a uniquely named module) so test
files import them from there: two files named ``conftest`` would shadow each other."""

from media_helpers import *  # noqa: F401,F403  (fixtures are registered from this namespace)
