"""asgi-consent: an outdated-browser notice and server-enforced cookie consent for any ASGI app."""

from consent.browser.classify import BrowserInfo
from consent.choice.codec import ConsentState
from consent.endpoints import DecisionEvent
from consent.middleware import ConsentMiddleware
from consent.settings import Category, ConfigurationError, ConsentSettings

__all__ = [
    "BrowserInfo",
    "Category",
    "ConfigurationError",
    "ConsentMiddleware",
    "ConsentSettings",
    "ConsentState",
    "DecisionEvent",
]
__version__ = "0.1.0"
