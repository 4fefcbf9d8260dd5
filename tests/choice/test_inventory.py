"""The passive cookie inventory: names read as browsers send them, bounds, the shared file."""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.choice.inventory import (
    MAX_BROWSER_ONLY_NAMES,
    MAX_NAME_BYTES,
    MAX_NAMES,
    MAX_NEW_NAMES_PER_HEADER,
    CookieInventory,
    Inventory,
    Sighting,
    merge_into_file,
    read_inventory,
)
from tests.support import client, make_settings, page_app


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def no_category(name: str) -> str:
    return ""


def reference_names(header: bytes) -> list[str]:
    """The names of a Cookie header, pair by pair: what is before each pair's first ``=``,
    without spaces and tabs around it; pairs without ``=`` or with an empty name name none."""
    names = []
    for pair in header.split(b";"):
        name, equals, _ = pair.partition(b"=")
        name = name.strip(b" \t")
        if equals and name:
            names.append(name.decode("latin-1"))
    return names


_NAME_BYTES = st.binary(min_size=0, max_size=12).filter(lambda b: b";" not in b and b"=" not in b)
_VALUE_BYTES = st.binary(max_size=12).filter(lambda b: b";" not in b)
_PAIR = st.one_of(
    st.tuples(_NAME_BYTES, st.just(b"="), _VALUE_BYTES).map(b"".join),
    _NAME_BYTES,  # a pair without "="
    st.tuples(st.sampled_from([b" ", b"\t", b"  "]), _NAME_BYTES, st.just(b" = v")).map(b"".join),
)


@given(st.lists(_PAIR, max_size=20), st.sampled_from([b"; ", b";", b";\t"]))
def test_the_names_of_a_cookie_header_are_read_as_pair_by_pair(
    pairs: list[bytes], separator: bytes
) -> None:
    """The one regular expression (the fast path) finds what splitting pair by pair finds."""
    header = separator.join(pairs)
    inventory = CookieInventory(None, no_category)
    inventory.saw_cookie_header(header)
    expected = {n for n in reference_names(header) if len(n.encode("latin-1")) <= MAX_NAME_BYTES}
    kept = inventory.snapshot().names
    assert set(kept) == expected
    assert all(sighting.browser_only for sighting in kept.values())


@given(
    st.lists(st.integers(min_value=0, max_value=MAX_NAMES + 200), max_size=60),
    st.lists(st.integers(min_value=MAX_NAME_BYTES + 1, max_value=2000), max_size=5),
)
def test_the_inventory_is_bounded_and_counts_what_it_does_not_keep(
    numbers: list[int], long_lengths: list[int]
) -> None:
    inventory = CookieInventory(None, no_category, read_one_header_in=1)
    filler = [f"f{i}".encode() for i in range(MAX_NAMES - 10)]
    inventory.saw_set_cookie([(b"set-cookie", name + b"=1") for name in filler])
    for number in numbers:
        inventory.saw_set_cookie([(b"set-cookie", f"n{number}=v; Path=/".encode())])
    for length in long_lengths:
        inventory.saw_cookie_header(b"x" * length + b"=1")
    taken = inventory.snapshot()
    distinct = sorted(set(numbers), key=numbers.index)  # in the order first seen
    assert len(taken.names) == min(MAX_NAMES, len(filler) + len(distinct))
    assert all(len(name) <= MAX_NAME_BYTES for name in taken.names)
    kept_new = distinct[:10]
    assert {f"n{n}" for n in kept_new} <= set(taken.names)
    # Every sighting of a name that did not fit is counted; a kept one is a set lookup.
    assert taken.dropped == sum(1 for n in numbers if n not in kept_new)
    assert taken.oversized == len(long_lengths)


def test_made_up_names_from_clients_cannot_crowd_out_the_sites_own() -> None:
    """One Cookie header adds at most MAX_NEW_NAMES_PER_HEADER names, names only browsers sent
    take at most MAX_BROWSER_ONLY_NAMES, and the names the site's responses set still fit; the
    same holds when processes' inventories are merged into the file."""
    inventory = CookieInventory(None, no_category, read_one_header_in=1)
    made_up = [f"j{i:04}=1".encode() for i in range(MAX_NAMES)]
    inventory.saw_cookie_header(b"; ".join(made_up))
    assert len(inventory.snapshot().names) == MAX_NEW_NAMES_PER_HEADER
    for start in range(0, MAX_NAMES, MAX_NEW_NAMES_PER_HEADER):
        inventory.saw_cookie_header(b"; ".join(made_up[start : start + MAX_NEW_NAMES_PER_HEADER]))
    inventory.saw_set_cookie([(b"set-cookie", b"session=1; Path=/"), (b"set-cookie", b"_ga=2")])
    inventory.saw_cookie_header(b"_hjid=1")  # a real script's cookie, past the half: counted
    taken = inventory.snapshot()
    assert sum(sighting.browser_only for sighting in taken.names.values()) == (
        MAX_BROWSER_ONLY_NAMES
    )
    assert taken.names["session"].set_by_server and taken.names["_ga"].set_by_server
    assert "_hjid" not in taken.names and taken.dropped > 0
    # A browser-only name that a response then sets leaves room for another.
    inventory.saw_set_cookie([(b"set-cookie", b"j0000=1")])
    inventory.saw_cookie_header(b"_hjid=1")
    assert inventory.snapshot().names["_hjid"].browser_only

    merged = Inventory({})
    merged.merge(taken)
    other = Inventory({f"k{i}": Sighting("t", "t", sent_by_browsers=True) for i in range(10)})
    other.names["csrftoken"] = Sighting("t", "t", set_by_server=True)
    merged.merge(other)
    assert sum(sighting.browser_only for sighting in merged.names.values()) == (
        MAX_BROWSER_ONLY_NAMES
    )
    assert "csrftoken" in merged.names and "k0" not in merged.names


def test_a_known_name_is_one_set_lookup_until_the_next_write(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "inventory.json"
    inventory = CookieInventory(path, no_category, clock=clock, read_one_header_in=1)
    inventory.saw_cookie_header(b"_ga=1; _hjid=2")
    clock.now += 60
    inventory.saw_cookie_header(b"_hjid=3; _ga=4")  # known since the last write: not noted
    assert inventory.snapshot().names["_ga"].last_seen == "2027-01-15T08:00:00Z"
    inventory.flush()
    clock.now += 60
    inventory.saw_cookie_header(b"_hjid=3; _ga=4")  # after a write, its last sighting counts
    assert inventory.snapshot().names["_ga"].last_seen == "2027-01-15T08:02:00Z"
    assert inventory.snapshot().names["_ga"].first_seen == "2027-01-15T08:00:00Z"


def test_one_cookie_header_in_a_few_is_read_the_first_always() -> None:
    inventory = CookieInventory(None, no_category, read_one_header_in=4)
    for index in range(9):
        inventory.saw_cookie_header(f"n{index}=1".encode())
    assert set(inventory.snapshot().names) == {"n0", "n4", "n8"}


def test_server_set_and_browser_sent_names_are_told_apart() -> None:
    categories = {"_ga": "analytics", "session": "necessary"}
    inventory = CookieInventory(None, lambda name: categories.get(name, ""))
    inventory.saw_set_cookie(
        [
            (b"content-type", b"text/html"),
            (b"Set-Cookie", b"session=1; HttpOnly"),
            (b"set-cookie", b" _ga = GA1; Max-Age=0"),
            (b"set-cookie", b"novalue"),  # a nameless cookie: no name to keep
        ]
    )
    inventory.saw_cookie_header(b"session=1; _ga=GA1; _hjid=x")
    names = inventory.snapshot().names
    assert set(names) == {"session", "_ga", "_hjid"}
    assert names["session"].set_by_server and names["session"].sent_by_browsers
    assert not names["_ga"].browser_only
    assert names["_hjid"].browser_only
    assert (names["_ga"].category, names["_hjid"].category) == ("analytics", "")


def test_the_middlewares_own_cookies_count_as_set_by_the_server(tmp_path: Path) -> None:
    """The endpoints set them, out of the responder's sight: browsers sending one back is
    proof enough."""
    app = page_app(make_settings(cookie_inventory=str(tmp_path / "inventory.json")))
    assert app.inventory is not None
    app.inventory.saw_cookie_header(b"consent=x; consent_browser_notice=1; _hjid=2")
    names = app.inventory.snapshot().names
    assert not names["consent"].browser_only
    assert not names["consent_browser_notice"].browser_only
    assert names["_hjid"].browser_only


def _write_names(path: str, prefix: str, rounds: int) -> None:
    """One process's writes: a new name each round, merged into the shared file."""
    for index in range(rounds):
        sighting = Sighting(f"2026-01-01T00:00:{index:02d}Z", f"2026-01-01T00:00:{index:02d}Z")
        merge_into_file(Path(path), Inventory({f"{prefix}{index}": sighting}, dropped=1))


def test_two_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "inventory.json"
    rounds = 25
    with ProcessPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(_write_names, str(path), prefix, rounds) for prefix in ("a", "b")]
        for future in done:
            future.result()
    merged = read_inventory(path)
    assert set(merged.names) == {f"{p}{i}" for p in "ab" for i in range(rounds)}
    assert merged.dropped == 2 * rounds  # counts are added, each write's once
    assert path.stat().st_mode & 0o777 == 0o644
    # Every write replaced the file: no temporary file is left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, f"{path.name}.lock"]


def test_merging_keeps_the_earliest_first_and_latest_last_sighting(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    early = Sighting("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", set_by_server=True)
    late = Sighting("2026-01-05T00:00:00Z", "2026-01-09T00:00:00Z", sent_by_browsers=True)
    merge_into_file(path, Inventory({"_ga": late}))
    merged = merge_into_file(path, Inventory({"_ga": early}))
    sighting = merged.names["_ga"]
    assert (sighting.first_seen, sighting.last_seen) == (early.first_seen, late.last_seen)
    assert sighting.set_by_server and sighting.sent_by_browsers
    assert read_inventory(path) == merged


def test_a_file_that_is_not_an_inventory_is_started_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "inventory.json"
    path.write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="consent"):
        merged = merge_into_file(path, Inventory({"a": Sighting("x", "x")}))
    assert set(merged.names) == {"a"}
    assert "is not a cookie inventory" in caplog.text
    path.write_text(json.dumps({"version": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match="version 1"):
        read_inventory(path)


def test_the_event_loop_writes_the_file_soon_without_a_page_waiting(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"

    async def serve() -> bool:
        inventory = CookieInventory(path, no_category, write_interval=0.05)
        inventory.saw_cookie_header(b"_hjid=1")
        written_at_once = path.exists()  # the sighting itself never touches the disk
        for _ in range(100):
            await asyncio.sleep(0.02)
            if path.exists():
                break
        return written_at_once

    assert asyncio.run(serve()) is False
    assert set(read_inventory(path).names) == {"_hjid"}


def test_the_middleware_notes_set_and_sent_names_and_writes_them_at_shutdown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inventory.json"
    app = page_app(make_settings(cookie_inventory=str(path)))
    assert app.inventory is not None
    with client(app) as browser:  # the lifespan: shutdown writes the file
        browser.cookies.set("_hjid", "h1", domain="localhost.local")
        assert browser.get("/").status_code == 200
        assert not path.exists()
    names = read_inventory(path).names
    # The page sets session, _ga, _ga_XYZ, _fbp and mystery; the browser sent _hjid.
    assert {"session", "_ga", "_ga_XYZ", "_fbp", "mystery", "_hjid"} <= set(names)
    assert names["_hjid"].browser_only
    assert names["mystery"].set_by_server
    assert names["_ga_XYZ"].category == "analytics"
    assert names["mystery"].category == ""


def test_a_returning_visitors_cookie_header_is_not_read_again(tmp_path: Path) -> None:
    """The inventory reads a Cookie header when the visitor cache misses, and only then."""
    app = page_app(make_settings(cookie_inventory=str(tmp_path / "inventory.json")))
    inventory = app.inventory
    assert inventory is not None
    read: list[bytes] = []
    original = inventory.saw_cookie_header
    assert app.site.on_new_cookie_header == original

    def counting(header: bytes) -> None:
        read.append(header)
        original(header)

    app.site.on_new_cookie_header = counting
    headers = {"Cookie": "_hjid=1; _ga=2"}
    with client(app) as browser:
        for _ in range(3):
            browser.get("/state", headers=headers)
        browser.get("/state", headers={"Cookie": "_hjid=1; _ga=3"})
    assert read == [b"_hjid=1; _ga=2", b"_hjid=1; _ga=3"]


def test_none_turns_the_inventory_off(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert page_app(make_settings(cookie_inventory="None")).inventory is None
    default = page_app(make_settings(cookie_inventory="consent-cookie-inventory.json"))
    assert default.inventory is not None
    assert default.inventory.path == Path("consent-cookie-inventory.json")
