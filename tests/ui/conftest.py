"""Studio fixtures; helpers live in ``studio_helpers`` (see tests/conftest.py for why)."""

from studio_helpers import *  # noqa: F401,F403  (fixtures are registered from this namespace)
