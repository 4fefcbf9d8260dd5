"""Proof of consent that lasts: a record of every decision, kept in a database.

A :class:`DecisionRecord` says who (pseudonymously), when, what was granted and refused, and what
the visitor was shown (a :class:`Wording`, stored once under its SHA-256 fingerprint).
:class:`RecordStore` writes records through SQLAlchemy's async Core to SQLite or PostgreSQL, many
decisions to a transaction, and falls back to a local :class:`Spool` file when the database is
down or slow, so that no acknowledged decision is lost. ``consent.records.cli`` reads them back.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each public name lives. They are imported when first used (PEP 562), so that a site
#: with no record store, which imports ``consent.records.model`` for its types, does not load
#: SQLAlchemy and the database drivers.
_HOMES = {
    **dict.fromkeys(
        (
            "DEFAULT_RECORDS_URL",
            "SCHEMA_VERSION",
            "RecordsConfigurationError",
            "SchemaVersionError",
        ),
        "database",
    ),
    **dict.fromkeys(
        (
            "ACTIONS",
            "IP_POLICIES",
            "SOURCES",
            "Action",
            "DecisionRecord",
            "IpPolicy",
            "OfferedCategory",
            "RecordSource",
            "Wording",
            "reduce_address",
        ),
        "model",
    ),
    **dict.fromkeys(("Spool", "SpoolInUseError"), "spool"),
    **dict.fromkeys(("RecordNotKeptError", "RecordStore", "Stored", "open_store"), "store"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"consent.records.{home}"), name)


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
