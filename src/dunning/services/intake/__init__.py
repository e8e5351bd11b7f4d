"""Intake services: portfolio imports and repayment imports."""
