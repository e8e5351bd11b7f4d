"""Campaigns: planning, lifecycle (pilot, approval, send), sending, delivery, held messages, outcomes."""
