"""Shared infrastructure the domains build on: roles and tokens, the event log, the live feed."""
