"""Intake of calls and grid reports: validation, categories, idempotency, related alerts, incidents."""
