"""Proof of consent that lasts: a record of every decision, kept in a database.

A :class:`DecisionRecord` says who (pseudonymously), when, what was granted and refused, and what
the visitor was shown (a :class:`Wording`, stored once under its SHA-256 fingerprint).
:class:`RecordStore` writes records through SQLAlchemy's async Core to SQLite or PostgreSQL, many
decisions to a transaction, and falls back to a local :class:`Spool` file when the database is
down or slow, so that no acknowledged decision is lost. ``consent.records.cli`` reads them back.
"""

from __future__ import annotations

from consent.records.database import (
    DEFAULT_RECORDS_URL,
    SCHEMA_VERSION,
    RecordsConfigurationError,
    SchemaVersionError,
)
from consent.records.model import (
    ACTIONS,
    IP_POLICIES,
    SOURCES,
    Action,
    DecisionRecord,
    IpPolicy,
    OfferedCategory,
    RecordSource,
    Wording,
    reduce_address,
)
from consent.records.spool import Spool, SpoolInUseError
from consent.records.store import RecordNotKeptError, RecordStore, Stored, open_store

__all__ = [
    "ACTIONS",
    "DEFAULT_RECORDS_URL",
    "IP_POLICIES",
    "SCHEMA_VERSION",
    "SOURCES",
    "Action",
    "DecisionRecord",
    "IpPolicy",
    "OfferedCategory",
    "RecordNotKeptError",
    "RecordSource",
    "RecordStore",
    "RecordsConfigurationError",
    "SchemaVersionError",
    "Spool",
    "SpoolInUseError",
    "Stored",
    "Wording",
    "open_store",
    "reduce_address",
]
