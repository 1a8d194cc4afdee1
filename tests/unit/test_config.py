"""config.toml validation: the gateway refuses to start on anything it cannot honour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.staff.logins import LoginLimits, default_workers
from tests.conftest import load_config, unreachable_carriers

Change = Callable[[dict[str, Any]], None]


def set_(path: str, value: object) -> Change:
    def change(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = raw
        for key in parents:
            target = target.setdefault(key, {})
        if value is ...:
            del target[last]
        else:
            target[last] = value

    return change


class TestLoad:
    def test_the_shipped_config_loads(self, tmp_path: Path, carrier_env: None) -> None:
        """config.toml as shipped loads, with a rule for every carrier service it names."""
        config = load_config(tmp_path, unreachable_carriers())
        assert config.policy.rule("posti", "pickup_point").needs_pickup_point
        assert "street" not in config.policy.rule("posti", "pickup_point").allow

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (set_("carriers.ups", {"base_url": "http://x"}), "unknown carrier"),
            (set_("policy.posti.express", {"allow": ["name"]}), "unknown service"),
            (set_("policy.posti.pickup_point.allow", ["name", "shoe_size"]), "unknown field"),
            (set_("policy.posti.home_delivery.allow",
                  ["name", "street", "postal_code", "town", "country", "phone",
                   "marketing_consent"]), "marketing_consent never leaves"),
            (set_("policy.posti.home_delivery", {"allow": ["name", "postal_code", "town",
                                                            "country", "phone"]}),
             "requires street"),
            (set_("policy.posti.home_delivery.require", ["door_code"]), "require names fields"),
            (set_("policy.posti.pickup_point.notice", ["pigeon"]), "notice channel"),
            (set_("gateway.secrets.hooks", "whsec_abc"), "not written in config.toml"),
            (set_("gateway.secrets.record_kek", {"env": "GATEWAY_TEST_UNSET_VAR"}), "not set"),
            (set_("gateway.secrets.subject_hmac", {"file": "no/such/file"}), "cannot read"),
            (set_("gateway.secrets.checkpoint_signing", ...), "checkpoint_signing is missing"),
            (set_("record.store", "mongodb"), "unknown store"),
            (set_("record.recover_after", 0), "recover_after: a number of seconds above 0"),
            (set_("erasure.package_retention_days", -1),
             "package_retention_days must be a whole number"),
            (set_("record.recover_after", "soon"), "recover_after: a number of seconds"),
            (set_("gateway.colour", "blue"), "unknown key"),
            (set_("policy", {}), "allows nothing"),
        ],
    )
    def test_refuses_a_config_it_cannot_honour(
        self, tmp_path: Path, carrier_env: None, change: Change, message: str
    ) -> None:
        """Each wrong setting stops the load with a message naming it."""
        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path, unreachable_carriers(), change)

    def test_carrier_credentials_are_read_only_when_asked_for(
        self, tmp_path: Path, no_carrier_env: list[str]
    ) -> None:
        """The config loads without any carrier credential (commands that reach no carrier
        need none); asking for the credentials names every missing variable in one message."""
        config = load_config(tmp_path, unreachable_carriers())
        with pytest.raises(ConfigError) as raised:
            config.carrier_credentials()
        assert raised.value.detail == f"missing carrier credentials: {', '.join(no_carrier_env)}"

    def test_carrier_credentials_are_read_from_the_environment(
        self, tmp_path: Path, carrier_env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each carrier's credentials come from its variables, trimmed; one unset is named."""
        monkeypatch.setenv("POSTI_API_KEY", " key-1 \n")
        config = load_config(tmp_path, unreachable_carriers())
        assert config.carrier_credentials()["posti"]["api_key"] == "key-1"
        monkeypatch.delenv("BUDBEE_API_SECRET")
        with pytest.raises(ConfigError, match=r"^missing carrier credentials: BUDBEE_API_SECRET$"):
            config.carrier_credentials()

    def test_refuses_an_unreadable_or_invalid_file(self, tmp_path: Path) -> None:
        """A missing file or broken TOML is refused with its name."""
        with pytest.raises(ConfigError, match="cannot read"):
            Config.from_toml(tmp_path / "absent.toml")
        bad = tmp_path / "bad.toml"
        bad.write_text("[gateway\n")
        with pytest.raises(ConfigError, match="not valid TOML"):
            Config.from_toml(bad)

    def test_secrets_do_not_show_in_the_config_repr(self, tmp_path: Path,
                                                    carrier_env: None) -> None:
        """Printing the config shows where secrets come from, never their values."""
        config = load_config(tmp_path, unreachable_carriers())
        text = repr(config)
        assert "sandbox-secret" not in text
        assert config.keys.kek.hex() not in text


OAUTH_CREDENTIALS = {"client_id": {"env": "POSTI_CLIENT_ID"},
                     "client_secret": {"env": "POSTI_CLIENT_SECRET"}}


class TestPostiOAuth:
    """[carriers.posti] names either the HMAC pair or the OAuth client pair (and token_url
    only with the latter); the other carriers keep their single credential set."""

    @pytest.fixture
    def oauth_env(self, monkeypatch: pytest.MonkeyPatch, carrier_env: None) -> None:
        monkeypatch.setenv("POSTI_CLIENT_ID", "client-id")
        monkeypatch.setenv("POSTI_CLIENT_SECRET", "client-secret")

    def test_client_credentials_and_token_url_load(self, tmp_path: Path,
                                                   oauth_env: None) -> None:
        def change(raw: dict[str, Any]) -> None:
            raw["carriers"]["posti"]["credentials"] = OAUTH_CREDENTIALS
            raw["carriers"]["posti"]["token_url"] = "https://oauth2.barium.posti.com/oauth/token"

        posti = load_config(tmp_path, unreachable_carriers(), change).carriers["posti"]

        assert set(posti.credentials) == {"client_id", "client_secret"}
        assert posti.options == {"token_url": "https://oauth2.barium.posti.com/oauth/token"}
        assert "client-secret" not in repr(posti)

    def test_the_shipped_config_stays_on_hmac(self, tmp_path: Path, carrier_env: None) -> None:
        posti = load_config(tmp_path, unreachable_carriers()).carriers["posti"]
        assert set(posti.credentials) == {"api_key", "secret"}
        assert posti.options == {}

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (set_("carriers.posti.credentials",
                  {**OAUTH_CREDENTIALS, "secret": {"env": "POSTI_API_SECRET"}}),
             "exactly api_key, secret or client_id, client_secret"),
            (set_("carriers.posti.credentials", {"client_id": {"env": "POSTI_CLIENT_ID"}}),
             "credentials must name exactly"),
            (set_("carriers.posti.token_url", "https://oauth2.posti.com/oauth/token"),
             "token_url applies only with credentials client_id, client_secret"),
            (set_("carriers.matkahuolto.token_url", "https://x/oauth/token"), "unknown key"),
            (set_("carriers.matkahuolto.credentials", OAUTH_CREDENTIALS),
             "exactly password, user_id"),
        ],
    )
    def test_refuses_mixed_or_misplaced_oauth_settings(
        self, tmp_path: Path, oauth_env: None, change: Change, message: str
    ) -> None:
        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path, unreachable_carriers(), change)

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("ftp://oauth2.posti.com/token", "http:// or https://"),
            ("https:///oauth/token", "with a host"),
            ("https://client:secret@oauth2.posti.com/oauth/token", "no user, password"),
            ("https://oauth2.posti.com:port/oauth/token", "not a URL"),
            (42, "non-empty string"),
        ],
    )
    def test_refuses_a_bad_token_url(self, tmp_path: Path, oauth_env: None, url: object,
                                     message: str) -> None:
        def change(raw: dict[str, Any]) -> None:
            raw["carriers"]["posti"]["credentials"] = OAUTH_CREDENTIALS
            raw["carriers"]["posti"]["token_url"] = url

        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path, unreachable_carriers(), change)


class TestLogins:
    def test_the_shipped_limits_load(self, tmp_path: Path, carrier_env: None) -> None:
        """[logins] as shipped: password threads unset (one fewer than the cores, at most
        two), 16 waiting, 4 per client address; a config without the table gets the same, and
        a configured number of threads is taken as it is."""
        expected = LoginLimits(workers=default_workers(), waiting=16, per_client=4)
        assert load_config(tmp_path, unreachable_carriers()).logins == expected
        assert load_config(tmp_path, unreachable_carriers(), set_("logins", ...)).logins == expected
        assert load_config(tmp_path, unreachable_carriers(),
                           set_("logins.workers", 3)).logins.workers == 3

    @pytest.mark.parametrize(("change", "message"), [
        (set_("logins.workers", 0), "workers must be a whole number, 1 or more"),
        (set_("logins.waiting", -1), "waiting must be a whole number, 0 or more"),
        (set_("logins.per_client", "four"), "per_client must be a whole number"),
        (set_("logins.per_client", value=True), "per_client must be a whole number"),
        (set_("logins.threads", 2), r"\[logins\]: unknown key"),
        (set_("logins", 2), r"\[logins\] must be a table"),
    ])
    def test_refuses_limits_it_cannot_honour(self, tmp_path: Path, carrier_env: None,
                                             change: Change, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path, unreachable_carriers(), change)
