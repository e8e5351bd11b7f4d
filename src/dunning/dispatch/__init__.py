"""Dispatch: outbox claim, rate limiting, retry decisions, crash reconciliation."""
