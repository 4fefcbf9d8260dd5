"""The middleware's side of the record store: started with the app, a record per decision.

:class:`DecisionRecorder` opens the store the ``records_*`` settings describe (none when
``records_url = "none"``), starts it when the app starts (ASGI ``lifespan.startup``, which also
replays the spool) or else on the first decision, and closes it when the app stops. It builds each
decision's :class:`DecisionRecord` with the wording of the language the visitor was shown, built
once per language. Pages never reach it: only a decision does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Unpack

from consent.choice.declarations import shown_declarations
from consent.records.model import (
    Decision,
    DecisionRecord,
    OfferedCategory,
    OfferedCookie,
    OfferedService,
    Wording,
)
from consent.settings import RECORDS_OFF, service_item

if TYPE_CHECKING:
    from consent.records.store import RecordStore, Stored
    from consent.settings import ConsentSettings, CookieOwner

logger = logging.getLogger("consent.records")

#: Text keys that are not part of the consent wording (the outdated-browser notice).
NOT_CONSENT_TEXTS = ("notice.",)
#: The cookie tables' headings: part of the wording only where a category declares cookies.
DECLARATION_TEXTS = "declarations."
#: The services' texts, and those of the placeholders of their embeds (which can grant a
#: service): part of the wording only where a category has services.
SERVICE_TEXTS = ("services.", "embed.")
#: The banner's texts about what is new since a visitor's last choice: part of the wording of
#: the decisions of visitors who were asked about something new.
NEW_OFFER_TEXTS = "new."
#: Wordings kept built, per language and whether something new was asked about; a site offers
#: a handful of languages.
MAX_CACHED_LANGUAGES = 64
#: Seconds between two purges of the records older than ``records_retention_days``.
RETENTION_INTERVAL = 86_400.0


class DecisionRecorder:
    """Keeps a record of every decision in the store of the settings (see the module)."""

    def __init__(
        self,
        settings: ConsentSettings,
        texts: Callable[[str], Mapping[str, str]],
        category: Callable[[str, str], tuple[str, str]],
        service: Callable[[str, str, str], tuple[str, str]],
    ) -> None:
        self.settings = settings
        self._texts = texts
        self._category = category
        self._service = service
        self.store: RecordStore | None = None
        if settings.consent_enabled and settings.records_url.strip().lower() != RECORDS_OFF:
            # SQLAlchemy and the drivers load only for a site that keeps records.
            from consent.records.store import open_store

            self.store = open_store(
                settings.records_url,
                settings.records_spool_path(),
                commit_wait=settings.records_commit_wait,
                replay_interval=settings.records_replay_interval,
            )
        self._wordings: dict[tuple[str, bool], Wording] = {}
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._retention: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.store is not None

    async def start(self, *, replay: bool = False) -> None:
        """Starts the store once; a wrong ``records_url`` raises here. With ``replay`` (at the
        app's start-up), the spool is written into the database before this returns, when the
        database answers; else the store's keeper replays it in the background."""
        if self.store is None or self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                await self.store.start()
                self._started = True
                if self.settings.records_retention_days is not None:
                    self._retention = asyncio.create_task(
                        self._retention_loop(), name="consent records retention"
                    )
                if replay and self.store.direct and self.store.spool.pending():
                    try:
                        replayed = await self.store.replay()
                    except Exception as error:  # the keeper tries again
                        logger.warning("consent records: the spool was not replayed: %s", error)
                    else:
                        logger.info("consent records: %d spooled records replayed", replayed)

    async def close(self) -> None:
        """Writes what is queued, then lets go of the database and the spool."""
        if self.store is not None and self._started:
            self._started = False
            if self._retention is not None:
                self._retention.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._retention
                self._retention = None
            await self.store.close()

    async def purge_expired(self) -> int:
        """Deletes the records older than ``records_retention_days`` (none when unset);
        returns how many went."""
        days = self.settings.records_retention_days
        if self.store is None or days is None:
            return 0
        import sqlalchemy as sa

        from consent.records.database import records_table

        cutoff = datetime.now(UTC) - timedelta(days=days)
        async with self.store.engine.begin() as connection:
            result = await connection.execute(
                sa.delete(records_table).where(records_table.c.recorded_at < cutoff)
            )
        return max(result.rowcount, 0)

    async def _retention_loop(self) -> None:
        """Applies the retention at start-up, then every :data:`RETENTION_INTERVAL` seconds; a
        database that does not answer is tried again at the next turn."""
        while True:
            try:
                purged = await self.purge_expired()
            except Exception as error:
                logger.warning("consent records: the retention purge failed: %s", error)
            else:
                if purged:
                    logger.info("consent records: %d records past their retention purged", purged)
            await asyncio.sleep(RETENTION_INTERVAL)

    def wording(self, language: str, *, asked_new: bool = False) -> Wording:
        """The texts and categories shown in ``language``, built once per language; with
        ``asked_new``, the banner's texts about what is new since the last choice as well."""
        wording = self._wordings.get((language, asked_new))
        if wording is None:
            categories = self.settings.categories
            owners = self.settings.cookie_owners().values()
            declared = any(owner.declarations for owner in owners)
            with_services = any(category.services for category in categories.values())
            skipped: tuple[str, ...] = NOT_CONSENT_TEXTS
            if not declared:
                skipped = (*skipped, DECLARATION_TEXTS)
            if not with_services:
                skipped = (*skipped, *SERVICE_TEXTS)
            if not asked_new:
                skipped = (*skipped, NEW_OFFER_TEXTS)
            texts = {
                key: text
                for key, text in self._texts(language).items()
                if not key.startswith(skipped)
            }
            offered = []
            default_language = self.settings.default_language

            def offered_cookies(owner: CookieOwner) -> tuple[OfferedCookie, ...]:
                rows = shown_declarations(owner, language, default_language)
                return tuple(OfferedCookie(**row.as_json()) for row in rows)

            for name, category in categories.items():
                label, description = self._category(language, name)
                cookies = offered_cookies(category)
                services = []
                for service_name, service in category.services.items():
                    service_label, service_description = self._service(language, name, service_name)
                    services.append(
                        OfferedService(
                            service_item(name, service_name),
                            service_label,
                            service_description,
                            offered_cookies(service),
                        )
                    )
                offered.append(
                    OfferedCategory(
                        name, label, description, category.required, cookies, tuple(services)
                    )
                )
            wording = Wording.build(language, texts, offered)
            if len(self._wordings) >= MAX_CACHED_LANGUAGES:
                self._wordings.clear()
            self._wordings[(language, asked_new)] = wording
        return wording

    async def keep(
        self, *, language: str, asked_new: bool = False, **decision: Unpack[Decision]
    ) -> Stored | None:
        """Records ``decision`` with the wording the visitor was shown (in ``language``; with the
        texts about what is new when ``asked_new``): committed, or spooled after
        ``records_commit_wait`` seconds; None when the store is off. A ``record_id`` the client
        chose makes a retry a no-op."""
        if self.store is None:
            return None
        if not self._started:
            await self.start()
        record = DecisionRecord.create(
            wording=self.wording(language, asked_new=asked_new),
            ip_policy=self.settings.records_ip,
            **decision,
        )
        return await self.store.record(record)
