"""Settings: sources, precedence, and start-up errors that name the bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent import ConfigurationError, ConsentMiddleware, ConsentSettings
from tests.support import REPO, make_settings


def test_example_policy_mirrors_the_seed_site() -> None:
    settings = ConsentSettings.from_toml(REPO / "examples" / "policy.toml")
    assert settings.browsers == {
        "chrome": "24",
        "firefox": "20",
        "ie": "11",
        "opera": "15-18",
        "safari": "7",
        "seamonkey": "2.15-2.23",
    }
    assert settings.categories["necessary"].required
    assert settings.categories["necessary"].cookies == ("session",)
    assert settings.categories["analytics"].cookies == ("_ga", "_ga_*")
    assert settings.categories["marketing"].cookies == ("_fbp",)
    assert settings.secret_keys


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_REVISION", "7")
    monkeypatch.setenv("CONSENT_BROWSERS__CHROME", "100")
    settings = ConsentSettings.from_toml(REPO / "examples" / "policy.toml")
    assert settings.revision == 7
    assert settings.browsers["chrome"] == "100"
    assert settings.browsers["firefox"] == "20"


def test_keyword_arguments_override_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_REVISION", "7")
    settings = ConsentSettings.from_toml(REPO / "examples" / "policy.toml", revision=9)
    assert settings.revision == 9


def test_settings_file_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('secret_keys = ["k"]\nrevision = 4\n[browsers]\nfirefox = "60"\n')
    monkeypatch.setenv("CONSENT_SETTINGS_FILE", str(policy))
    settings = ConsentSettings.load()
    assert settings.revision == 4
    assert settings.browsers == {"firefox": "60"}


def test_secret_keys_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_SECRET_KEYS", '["new", "old"]')
    assert ConsentSettings.load().signing_keys() == ("new", "old")


def test_middleware_reads_environment_without_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_SECRET_KEYS", '["k"]')
    monkeypatch.setenv("CONSENT_PREFIX", "/consent-api")
    middleware = ConsentMiddleware(lambda *a: None)  # type: ignore[arg-type]
    assert middleware.prefix == "/consent-api"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"browsers": {"opera": "18-15"}}, "browsers.opera = '18-15'"),
        ({"browsers": {"netscape": "4"}}, "unknown browser key 'netscape'"),
        ({"browsers": {"chrome": "twenty"}}, "browsers.chrome = 'twenty'"),
        ({"browsers": {"chrome": ""}}, "browsers.chrome = ''"),
        ({"secret_keys": [""]}, "secret_keys[0] is empty"),
        ({"secret_keys": []}, "secret_keys is empty"),
        ({"prefix": "consent"}, "prefix 'consent'"),
        ({"prefix": "//evil"}, "prefix '//evil'"),
        ({"cookie_name": "bad name"}, "'bad name' is not a valid cookie name"),
        ({"notice_cookie_name": "a;b"}, "notice_cookie_name: 'a;b' is not a valid cookie name"),
        ({"notice_verdicts": ["outdated", "ancient"]}, "unknown verdict 'ancient'"),
        ({"undeclared_cookies": "maybe"}, "undeclared_cookies"),
        ({"consent_max_age_days": 0}, "consent_max_age_days"),
        ({"categories": {}}, "at least one category"),
        ({"categories": {"Ads": {"label": "Ads", "required": True}}}, "category name 'Ads'"),
        ({"categories": {"ads": {"label": "Ads"}}}, "one category must be required"),
        (
            {"categories": {"n": {"label": "N", "required": True, "cookies": ["a b"]}}},
            "categories.n.cookies.0: cookie name or pattern 'a b'",
        ),
        ({"privacy_policy_url": "javascript:alert(1)"}, "privacy_policy_url"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_settings_fail_naming_the_setting(values: dict[str, object], named: str) -> None:
    if "secret_keys" not in values:
        values = {"secret_keys": ["k"], **values}
    with pytest.raises(ConfigurationError) as error:
        ConsentSettings.load(**values)
    assert named in str(error.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"max_user_agent_length": 6}, "greater than or equal to 64 (got 6)"),
        ({"cookie_name": "a b"}, "cookie_name: 'a b' is not a valid cookie name"),
    ],
)
def test_the_value_given_is_shown_once(values: dict[str, object], message: str) -> None:
    """Shown after the refusal, unless the refusal quotes it already (digits of a bound do not
    count as quoting a number)."""
    with pytest.raises(ConfigurationError) as error:
        ConsentSettings.load(secret_keys=["k"], **values)
    assert str(error.value).endswith(message)


def test_none_in_any_case_turns_the_record_store_and_the_inventory_off() -> None:
    settings = ConsentSettings.load(
        secret_keys=["k"], records_url=" None ", cookie_inventory="NONE"
    )
    assert (settings.records_url, settings.cookie_inventory) == ("none", "none")
    assert settings.cookie_inventory_path() is None
    with pytest.raises(ConfigurationError, match="records_url: 'x' is not a database URL"):
        ConsentSettings.load(secret_keys=["k"], records_url="x")
    with pytest.raises(ConfigurationError, match="cookie_inventory is empty"):
        ConsentSettings.load(secret_keys=["k"], cookie_inventory=" ")


def test_no_secret_key_refuses_to_start_unless_debug(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigurationError, match="CONSENT_SECRET_KEYS"):
        ConsentSettings.load()
    settings = ConsentSettings.load(debug=True)
    keys = settings.signing_keys()
    assert len(keys) == 1 and len(keys[0]) >= 32
    assert settings.signing_keys() == keys


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        ConsentSettings.from_toml(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[browsers\nchrome = 1")
    with pytest.raises(ConfigurationError, match=r"broken\.toml"):
        ConsentSettings.from_toml(broken)


def test_invalid_value_in_file_names_the_key(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('secret_keys = ["k"]\n[browsers]\nopera = "18-15"\n')
    with pytest.raises(ConfigurationError, match=r"browsers\.opera = '18-15'"):
        ConsentSettings.from_toml(policy)


def test_family_map_is_extended_by_settings() -> None:
    settings = make_settings(
        browser_families={"netscape": ("Netscape",)}, browsers={"netscape": "unsupported"}
    )
    assert settings.family_map()["netscape"] == ("Netscape",)
    assert "Mobile Safari" in settings.family_map()["safari"]


def test_duplicate_cookie_in_two_categories_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="already in category"):
        make_settings(
            categories={
                "necessary": {"label": "N", "required": True, "cookies": ["x"]},
                "analytics": {"label": "A", "cookies": ["x"]},
            }
        )


def test_consent_cookie_is_host_only_when_cookies_are_always_secure() -> None:
    assert make_settings(cookie_secure="always").cookie_name == "__Host-consent"
    assert make_settings(cookie_secure="always", cookie_domain="example.com").cookie_name == (
        "consent"
    )
    assert make_settings().cookie_name == "consent"
    assert make_settings(cookie_secure="always", cookie_name="mine").cookie_name == "mine"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"cookie_name": "__Host-consent", "cookie_domain": "example.com"}, "cookie_name"),
        ({"cookie_name": "__Secure-consent", "cookie_secure": "never"}, "cookie_name"),
        ({"notice_cookie_name": "__Host-notice", "cookie_secure": "never"}, "notice_cookie_name"),
    ],
)
def test_prefixed_cookie_names_that_browsers_would_refuse_stop_start_up(
    overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        make_settings(**overrides)
