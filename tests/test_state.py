"""RequestState: a dict whose ``consent`` and ``browser`` items are looked up on demand."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consent import ConsentMiddleware
from consent.state import RequestState
from tests.support import CHROME, call, client, header_values, http_scope, make_settings, raw_app

CONSENT, BROWSER = "the consent", "the browser"


class FakeVisitor:
    consent = CONSENT
    browser = BROWSER


class Lookups:
    """A site that counts its visitor lookups."""

    def __init__(self) -> None:
        self.calls = 0

    def visitor_by_headers(self, headers: Any) -> FakeVisitor:
        self.calls += 1
        return FakeVisitor()


def lazy(origin: dict[str, Any] | None = None) -> tuple[RequestState, dict[str, Any], Lookups]:
    origin = {"lifespan": 1} if origin is None else origin
    lookups = Lookups()
    return RequestState(origin, lookups, []), origin, lookups  # type: ignore[arg-type]


# --- each operation reads as if both items were there from the start --------------------------


def test_nothing_is_looked_up_until_read() -> None:
    state, origin, lookups = lazy()
    state["user"] = "ada"
    assert state["lifespan"] == 1 and state.get("missing") is None and "other" not in state
    assert lookups.calls == 0 and not state.resolved
    assert origin == {"lifespan": 1, "user": "ada"}


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s["consent"],
        lambda s: s["browser"],
        lambda s: s.get("consent"),
        lambda s: "browser" in s,
        lambda s: len(s),
        lambda s: bool(s),
        lambda s: list(s),
        lambda s: list(reversed(s)),
        lambda s: s.keys(),
        lambda s: s.values(),
        lambda s: s.items(),
        lambda s: s.copy(),
        lambda s: dict(s),
        lambda s: {**s},
        lambda s: s | {},
        lambda s: {} | s,
        lambda s: copy.copy(s),
        lambda s: copy.deepcopy(s),
        lambda s: repr(s),
        lambda s: s == {},
        lambda s: s.setdefault("consent"),
        lambda s: s.pop("consent"),
        lambda s: s.popitem(),
    ],
)
def test_every_read_sees_both_items_after_one_lookup(read: Any) -> None:
    state, _, lookups = lazy()
    read(state)
    assert lookups.calls == 1 and state.resolved
    read_again = dict(state)
    assert lookups.calls == 1
    assert set(read_again) <= {"lifespan", "consent", "browser"}


def test_copies_and_serialisations_hold_the_items() -> None:
    state, _, _ = lazy()
    expected = {"lifespan": 1, "consent": CONSENT, "browser": BROWSER}
    assert dict(state) == expected == {**lazy()[0]} == lazy()[0].copy()
    assert copy.deepcopy(lazy()[0]) == expected and copy.copy(lazy()[0]) == expected
    assert json.loads(json.dumps(lazy()[0])) == expected
    assert pickle.loads(pickle.dumps(lazy()[0])) == expected  # noqa: S301 (our own bytes)
    assert lazy()[0] == expected and lazy()[0] == lazy()[0]
    assert (lazy()[0] != expected) is False
    assert repr(lazy()[0]) == repr(expected)


def test_application_values_win_over_the_lookup() -> None:
    state, origin, lookups = lazy()
    state["consent"] = "the app's own"
    assert state["consent"] == "the app's own" and state["browser"] == BROWSER
    assert origin["consent"] == "the app's own" and origin["browser"] == BROWSER
    assert lookups.calls == 1


def test_values_already_in_the_server_state_are_kept() -> None:
    state, _, _ = lazy({"consent": "outer"})
    assert state["consent"] == "outer" and state["browser"] == BROWSER


def test_clear_forgets_the_items_without_a_lookup() -> None:
    state, origin, lookups = lazy()
    state.clear()
    assert dict(state) == {} == origin and lookups.calls == 0
    with pytest.raises(KeyError):
        state["consent"]


def test_unknown_keys_still_raise() -> None:
    state, _, _ = lazy()
    with pytest.raises(KeyError):
        state["nope"]
    with pytest.raises(KeyError):
        del state["nope"]
    with pytest.raises(KeyError):
        state.pop("nope")
    assert state.pop("nope", 7) == 7
    with pytest.raises(TypeError):
        hash(state)


# Operations on a plain dict that holds both items from the start, and on RequestState: the same
# results, the same contents, and the server's dict always the same as the state.
KEYS = st.sampled_from(["consent", "browser", "lifespan", "user", "other"])
VALUES = st.integers(0, 9)
OPERATIONS = st.one_of(
    st.tuples(st.just("getitem"), KEYS),
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("contains"), KEYS),
    st.tuples(st.just("setitem"), KEYS, VALUES),
    st.tuples(st.just("delitem"), KEYS),
    st.tuples(st.just("setdefault"), KEYS, VALUES),
    st.tuples(st.just("pop"), KEYS),
    st.tuples(st.just("update"), st.dictionaries(KEYS, VALUES, max_size=3)),
    st.tuples(st.just("ior"), st.dictionaries(KEYS, VALUES, max_size=3)),
    st.tuples(st.just("len")),
    st.tuples(st.just("keys")),
    st.tuples(st.just("items")),
    st.tuples(st.just("clear")),
    st.tuples(st.just("popitem")),
)


def apply(target: dict[str, Any], operation: tuple[Any, ...]) -> Any:
    name, *args = operation
    try:
        if name == "getitem":
            return target[args[0]]
        if name == "get":
            return target.get(args[0], "default")
        if name == "contains":
            return args[0] in target
        if name == "setitem":
            target[args[0]] = args[1]
            return None
        if name == "delitem":
            del target[args[0]]
            return None
        if name == "setdefault":
            return target.setdefault(args[0], args[1])
        if name == "pop":
            return target.pop(args[0], "default")
        if name == "update":
            target.update(args[0])
            return None
        if name == "ior":
            target |= args[0]
            return None
        if name == "len":
            return len(target)
        if name in ("keys", "items"):
            return sorted(getattr(target, name)())  # insertion order may differ
        if name == "clear":
            target.clear()
            return None
        if name == "popitem":
            return target.popitem()
    except KeyError:
        return KeyError
    raise AssertionError(name)


@given(st.lists(OPERATIONS, max_size=12))
def test_behaves_as_a_dict_holding_both_items(operations: list[tuple[Any, ...]]) -> None:
    state, origin, lookups = lazy()
    model = {"lifespan": 1, "consent": CONSENT, "browser": BROWSER}
    for operation in operations:
        if operation[0] == "popitem" and not model:
            continue
        if operation[0] == "popitem":
            # Which item is last depends on insertion order: make it the same one.
            state.resolve()
            last = next(reversed(model))
            state[last] = state.pop(last)
        assert apply(state, operation) == apply(model, operation), operation
        assert dict(dict.items(state)) == origin
    assert dict(state) == model and lookups.calls <= 1


# --- in the middleware ------------------------------------------------------------------------


def counting_middleware(inner: Any) -> tuple[ConsentMiddleware, list[int]]:
    app = ConsentMiddleware(inner, settings=make_settings())
    calls: list[int] = []
    lookup = app.site.visitor_by_headers

    def counted(headers: Any) -> Any:
        calls.append(1)
        return lookup(headers)

    app.site.visitor_by_headers = counted  # type: ignore[method-assign]
    return app, calls


def test_responses_that_need_nothing_look_nothing_up() -> None:
    app, lookups = counting_middleware(raw_app([(b"content-type", b"application/json")], [b"{}"]))
    start, body = call(app, http_scope("/api", headers={"user-agent": CHROME}))
    assert start["status"] == 200 and body == b"{}" and lookups == []


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-type", b"application/json"), (b"set-cookie", b"_ga=1; Path=/")],
        [(b"content-type", b"text/html")],
    ],
)
def test_cookies_and_pages_look_the_visitor_up_once(headers: list[tuple[bytes, bytes]]) -> None:
    app, lookups = counting_middleware(raw_app(headers, [b"<body>x</body>"]))
    start, _ = call(app, http_scope("/", headers={"user-agent": CHROME}))
    assert lookups == [1]
    assert header_values(start, b"set-cookie") == []  # undecided: analytics refused


def test_a_state_read_and_the_response_share_one_lookup() -> None:
    async def home(request: Request) -> Response:
        response = JSONResponse({"decided": request.state.consent.decided})
        response.set_cookie("_ga", "1")
        return response

    app, lookups = counting_middleware(Starlette(routes=[Route("/", home)]))
    with client(app) as browser:
        response = browser.get("/", headers={"user-agent": CHROME})
    assert response.json() == {"decided": False} and "_ga" not in response.cookies
    assert lookups == [1]


def test_outer_middleware_keeps_seeing_the_server_state() -> None:
    """Code outside the middleware that kept ``scope["state"]`` sees what the app stores."""
    seen: dict[str, Any] = {}

    async def home(request: Request) -> Response:
        request.state.user = "ada"
        return JSONResponse({"verdict": request.state.browser.verdict})

    inner = ConsentMiddleware(Starlette(routes=[Route("/", home)]), settings=make_settings())

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            kept = State(scope.setdefault("state", {}))
            await inner(scope, receive, send)
            seen.update(user=kept.user, verdict=kept.browser.verdict)
        else:
            await inner(scope, receive, send)

    with client(outer) as browser:
        assert browser.get("/", headers={"user-agent": CHROME}).json() == {"verdict": "supported"}
    assert seen == {"user": "ada", "verdict": "supported"}
