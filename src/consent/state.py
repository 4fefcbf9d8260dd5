"""``scope["state"]`` as the middleware hands it on, with ``consent`` and ``browser`` on demand.

Most responses of a site (JSON, images, scripts, styles) never read the visitor's consent or
browser, so looking them up for every request is work thrown away. :class:`RequestState` is a
``dict`` that behaves as if both items were in it from the start: reading either one (as an item,
through ``get``, ``in``, iteration, a copy or any other dict operation) looks the visitor up once
and stores the two values. Frameworks keep reading them as before: ``request.state.consent`` in
Starlette, FastAPI and Litestar, whose ``State`` objects wrap this dict without copying it, and
``scope["state"]["consent"]`` elsewhere.

It replaces the server's state dict for the inner application, so every change made through it
is also made to that dict: middleware outside ours that kept it still sees what the application
stores. Only the other direction is lost: what outer code adds to its dict once the inner
application runs is not seen inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consent.choice.codec import ConsentState
    from consent.visitor import Site, Visitor

#: The items published on demand, in the order they are stored.
LAZY_KEYS = ("consent", "browser")


class RequestState(dict[str, Any]):
    """A copy of the server's ``state`` dict whose ``consent`` and ``browser`` items are the
    request's visitor's, looked up when first needed; every change is written through to
    ``origin`` as well.

    The responder asks it for the visitor too (:meth:`lookup`), so that a request looks its
    visitor up at most once. It holds the request's headers rather than its scope: the scope
    holds the state, so keeping the scope would make a reference cycle, and every request's
    objects would then wait for the garbage collector instead of being freed as soon as the
    response is sent.
    """

    __slots__ = ("_found", "_headers", "_origin", "_pending", "_site")

    def __init__(self, origin: dict[str, Any], site: Site, headers: Any) -> None:
        if origin:  # mostly empty, and calling dict.__init__ costs on every request
            dict.update(self, origin)
        self._origin = origin
        self._site = site
        self._headers = headers
        self._found: tuple[Visitor, ConsentState] | None = None
        self._pending = True  # consent and browser are not stored yet

    def lookup(self) -> tuple[Visitor, ConsentState]:
        """The visitor and their consent, looked up on the first call and then kept."""
        if self._found is None:
            visitor = self._site.visitor_by_headers(self._headers or ())
            self._found = visitor, visitor.consent
        return self._found

    @property
    def resolved(self) -> bool:
        """Whether ``consent`` and ``browser`` have been stored."""
        return not self._pending

    def resolve(self) -> None:
        """Store ``consent`` and ``browser`` now, unless the application already set its own."""
        if not self._pending:
            return
        self._pending = False
        visitor, consent = self.lookup()
        for key, value in zip(LAZY_KEYS, (consent, visitor.browser), strict=True):
            if not dict.__contains__(self, key):
                dict.__setitem__(self, key, value)
                self._origin.setdefault(key, value)

    def __missing__(self, key: str) -> Any:
        if self._pending and key in LAZY_KEYS:
            self.resolve()
            return dict.__getitem__(self, key)
        raise KeyError(key)

    # Reads that would miss the items not yet stored.

    def get(self, key: str, default: Any = None) -> Any:
        if self._pending and key in LAZY_KEYS:
            self.resolve()
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if self._pending and key in LAZY_KEYS:
            self.resolve()
        return dict.__contains__(self, key)

    def copy(self) -> dict[str, Any]:
        self.resolve()
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self.resolve()
        if isinstance(other, RequestState):
            other.resolve()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __or__(self, other: Any) -> Any:
        return self.copy() | other

    def __ror__(self, other: Any) -> Any:
        return other | self.copy()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return dict, (self.copy(),)

    # Changes, made to both dicts.

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self._origin[key] = value

    def __delitem__(self, key: str) -> None:
        self.resolve()
        dict.__delitem__(self, key)
        self._origin.pop(key, None)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return dict.__getitem__(self, key)
        self[key] = default
        return default

    def pop(self, key: str, *default: Any) -> Any:
        self.resolve()
        self._origin.pop(key, None)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.resolve()
        key, value = dict.popitem(self)
        self._origin.pop(key, None)
        return key, value

    def clear(self) -> None:
        self._pending = False
        dict.clear(self)
        self._origin.clear()

    def update(self, *others: Any, **changes: Any) -> None:
        for key, value in dict(*others, **changes).items():
            self[key] = value

    def __ior__(self, other: Any) -> RequestState:  # type: ignore[override]
        self.update(other)
        return self


def _resolving(name: str) -> Any:
    """``dict``'s method ``name``, after the visitor's items are stored: every read of the
    whole mapping (iteration, length, views, repr) sees ``consent`` and ``browser``."""
    method = getattr(dict, name)

    def read(self: RequestState, *args: Any) -> Any:
        self.resolve()
        return method(self, *args)

    read.__name__ = read.__qualname__ = name
    read.__doc__ = method.__doc__
    return read


for _name in ("__iter__", "__reversed__", "__len__", "keys", "values", "items", "__repr__"):
    setattr(RequestState, _name, _resolving(_name))
