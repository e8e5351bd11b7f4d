"""The web fixtures (a seeded database, the app) for the security tests."""

from tests.web.conftest import app, seeded, seeded_template, web_clock, web_ctx

__all__ = ["app", "seeded", "seeded_template", "web_clock", "web_ctx"]
