"""Tests of the consent-record store, its spool and its CLI, on real SQLite and PostgreSQL."""
