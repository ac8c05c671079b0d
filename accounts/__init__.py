"""Accounts: the people and systems who log in, their roles and their password hashes."""
