"""Fixtures and settings shared by every test directory."""

from hypothesis import HealthCheck, settings

from tests.clamd_fixtures import clamd

__all__ = ["clamd"]

# Neither a deadline per example nor a bound on the time to make them: on a shared machine a
# busy neighbour stretches either now and then, and a sound test fails as flaky.
settings.register_profile("omnirouter", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("omnirouter")
