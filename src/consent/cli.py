"""``consent check "<user agent>"`` and ``consent demo``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from consent.browser.classify import BrowserClassifier
from consent.settings import ConfigurationError, ConsentSettings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consent", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="classify a User-Agent against the browser rules")
    check.add_argument("user_agent", help="the User-Agent header value")
    check.add_argument(
        "--settings", metavar="TOML", help="a settings file (default: built-in rules)"
    )
    check.add_argument(
        "--client-hints", metavar="VALUE", help="a Sec-CH-UA-Full-Version-List value"
    )
    demo = commands.add_parser("demo", help="serve the example app on localhost")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument(
        "--app",
        default="examples.starlette_app:app",
        help="the app to serve (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    if args.command == "check":
        try:
            settings = (
                ConsentSettings.from_toml(args.settings, debug=True)
                if args.settings
                else ConsentSettings.load(debug=True)
            )
        except ConfigurationError as error:
            print(f"consent: {error}", file=sys.stderr)
            return 2
        hints = args.client_hints.encode("latin-1", "replace") if args.client_hints else None
        info = BrowserClassifier(settings).classify(
            args.user_agent.encode("utf-8", "replace"), hints
        )
        print(f"family:  {info.family}")
        print(f"version: {info.version_string or '-'}")
        print(
            f"rule:    {info.key or '-'}"
            + (f" ({settings.browsers[info.key]})" if info.key in settings.browsers else "")
        )
        print(f"verdict: {info.verdict}")
        return 0
    return _demo(args.app, args.host, args.port)


def _demo(app: str, host: str, port: int) -> int:
    """Serves the example app; run it from the repository's root, where ``examples/`` is."""
    try:
        import uvicorn
    except ImportError:
        print("consent demo needs uvicorn: pip install 'asgi-consent[demo]'", file=sys.stderr)
        return 2
    if "" not in sys.path:
        sys.path.insert(0, "")
    module = app.split(":", 1)[0]
    try:
        importlib.import_module(module)
    except ImportError as error:
        print(
            f"consent demo: cannot import {module} ({error}); run it from the repository root",
            file=sys.stderr,
        )
        return 2
    print(f"asgi-consent demo on http://{host}:{port}/", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
