"""The SMPP peer fixture of the dispatch tests (one fresh SMSC per test); pg_url and broker_url come from
tests/conftest.py."""

from tests.dispatch.conftest import peer  # noqa: F401  (re-exported fixture)
