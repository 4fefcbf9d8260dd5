"""The ``consent`` command: ``check "<user agent>"``, ``browsers``, ``cookies``, ``demo`` and
``records``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consent.browser.browserslist import load_data
from consent.browser.classify import BrowserClassifier
from consent.browser.policy import BrowserPolicy, KeyRule
from consent.browser.rules import describe_rule, format_version
from consent.settings import ConfigurationError, ConsentSettings


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["records"]:
        return _records(arguments[1:])
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
    browsers = commands.add_parser(
        "browsers", help="the browser rules the settings resolve to (a browserslist query's too)"
    )
    browsers.add_argument(
        "--settings", metavar="TOML", help="a settings file (default: built-in rules)"
    )
    browsers.add_argument(
        "--json", action="store_true", help="as JSON, with the release data's source"
    )
    cookies = commands.add_parser(
        "cookies",
        help="the cookie names the site's traffic carried, against the declarations",
    )
    cookies.add_argument(
        "--settings", metavar="TOML", help="a settings file (default: built-in settings)"
    )
    cookies.add_argument(
        "--inventory", metavar="JSON", help="the inventory file (default: cookie_inventory)"
    )
    cookies.add_argument(
        "--check", action="store_true", help="exit with status 1 when a cookie is undeclared"
    )
    commands.add_parser(
        "records",
        help="read the consent records back (consent records --help)",
        add_help=False,
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

    if args.command == "cookies":
        return _cookies(args.settings, args.inventory, check=args.check)
    if args.command in ("check", "browsers"):
        settings = _settings(args.settings)
        if settings is None:
            return 2
        if args.command == "browsers":
            policy = settings.browser_policy()
            print(json.dumps(_policy_json(policy), indent=2) if args.json else _policy_text(policy))
            return 0
        hints = args.client_hints.encode("latin-1", "replace") if args.client_hints else None
        info = BrowserClassifier(settings).classify(
            args.user_agent.encode("utf-8", "replace"), hints
        )
        stated = settings.browser_policy().rules.get(info.key or "")
        print(f"family:  {info.family}")
        print(f"version: {info.version_string or '-'}")
        print(f"rule:    {info.key or '-'}" + (f" ({stated.describe()})" if stated else ""))
        print(f"verdict: {info.verdict}")
        return 0
    return _demo(args.app, args.host, args.port)


def _settings(settings_file: str | None) -> ConsentSettings | None:
    """The settings of ``settings_file``, else the usual ones (``ConsentSettings.load``); None,
    with the reason on stderr, when they are not valid."""
    try:
        if settings_file:
            return ConsentSettings.from_toml(settings_file, debug=True)
        return ConsentSettings.load(debug=True)
    except ConfigurationError as error:
        print(f"consent: {error}", file=sys.stderr)
        return None


def _decided_by(key: str, stated: KeyRule) -> str:
    if stated.written is None:
        return f"from {stated.query}"
    return f"browsers.{key} = {json.dumps(stated.written)}"


def _policy_text(policy: BrowserPolicy) -> str:
    """One line per key: its rule and what decided it, then what a query selects but judges
    no browser."""
    data = policy.data or load_data()
    lines = [
        f"query:  {policy.query.label if policy.query else '-'}",
        f"data:   {data.package} {data.version} (newest release {data.date.isoformat()}, "
        f"{data.license})",
    ]
    width = max((len(key) for key in policy.rules), default=0)
    for key, stated in policy.rules.items():
        shown = describe_rule(stated.rule)
        lines.append(f"{key:<{width}}  {shown:<12} {_decided_by(key, stated)}")
    for agent, reason in policy.unused.items():
        lines.append(f"not judged: {agent} {reason}")
    return "\n".join(lines)


def _policy_json(policy: BrowserPolicy) -> dict[str, Any]:
    data = policy.data or load_data()
    rules = {}
    for key, stated in policy.rules.items():
        rule = stated.rule
        rules[key] = {
            "rule": describe_rule(rule),
            "minimum": format_version(rule.minimum) if rule.minimum is not None else None,
            "maximum": format_version(rule.maximum) if rule.maximum is not None else None,
            "unsupported": rule.unsupported,
            "decided_by": _decided_by(key, stated),
        }
    query = policy.query
    return {
        "data": {
            "package": data.package,
            "version": data.version,
            "date": data.date.isoformat(),
            "license": data.license,
            "browserslist": data.browserslist_version,
        },
        "query": None if query is None else {"label": query.label, "entries": list(query.entries)},
        "rules": rules,
        "selected": {agent: list(versions) for agent, versions in policy.selected.items()},
        "not_judged": dict(policy.unused),
    }


def _cookies(settings_file: str | None, inventory_file: str | None, *, check: bool) -> int:
    """``consent cookies``: 0, or 1 with ``check`` when a cookie is undeclared; 2 when the
    settings or the inventory cannot be read."""
    from consent.choice.cookie_report import build_report, check_message, report_text
    from consent.choice.inventory import read_inventory

    settings = _settings(settings_file)
    if settings is None:
        return 2
    path = Path(inventory_file) if inventory_file else settings.cookie_inventory_path()
    if path is None:
        print("consent cookies: cookie_inventory is 'none'; give --inventory", file=sys.stderr)
        return 2
    try:
        inventory = read_inventory(path)
    except FileNotFoundError:
        print(
            f"consent cookies: no inventory at {path}: the middleware writes it (setting "
            "cookie_inventory) once it has served pages",
            file=sys.stderr,
        )
        return 2
    except (OSError, ValueError) as error:
        print(f"consent cookies: cannot read {path}: {error}", file=sys.stderr)
        return 2
    report = build_report(settings, inventory)
    print(report_text(report, str(path)))
    failure = check_message(report) if check else None
    if failure is not None:
        print(f"\nconsent cookies --check: {failure}", file=sys.stderr)
        return 1
    return 0


def _records(argv: list[str]) -> int:
    """``consent records [--settings TOML] …``: the store of ``records_url`` in the settings."""
    from consent.records.cli import main as records_main  # sqlalchemy only for this command

    settings_file = None
    rest: list[str] = []
    words = iter(argv)
    for word in words:  # --settings TOML, anywhere among the records command's arguments
        if word == "--settings":
            settings_file = next(words, None)
            if settings_file is None:
                print("consent records: --settings needs a TOML file", file=sys.stderr)
                return 2
        elif word.startswith("--settings="):
            settings_file = word.split("=", 1)[1]
        else:
            rest.append(word)
    settings = _settings(settings_file)
    if settings is None:
        return 2
    return records_main(rest, settings.records_url)


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
