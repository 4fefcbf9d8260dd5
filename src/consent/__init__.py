"""asgi-consent: an outdated-browser notice and server-enforced cookie consent for any ASGI app."""

from typing import TYPE_CHECKING

from consent.settings import Category, ConfigurationError, ConsentSettings

if TYPE_CHECKING:
    from consent.middleware import ConsentMiddleware

__all__ = ["Category", "ConfigurationError", "ConsentMiddleware", "ConsentSettings"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name == "ConsentMiddleware":
        from consent.middleware import ConsentMiddleware

        return ConsentMiddleware
    raise AttributeError(name)
