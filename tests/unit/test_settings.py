"""Settings refuse what would hurt in production, with a message that names the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gardenos.settings import Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_development_defaults_are_fine() -> None:
    settings = make()
    assert settings.external_url == "http://127.0.0.1:8000"


def test_production_refuses_localhost_links_and_a_missing_secret() -> None:
    with pytest.raises(ValidationError) as refused:
        make(env="production")
    message = str(refused.value)
    assert "GARDENOS_SITE_URL" in message
    assert "GARDENOS_JWT_SECRET is not set" in message


def test_production_with_real_values() -> None:
    settings = make(env="production", site_url="https://crm.example.com", jwt_secret="x" * 40)
    assert settings.external_url == "https://crm.example.com"


def test_a_short_production_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="shorter than 32"):
        make(env="production", site_url="https://crm.example.com", jwt_secret="short")


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make().trusted_proxies == []
    monkeypatch.setenv("GARDENOS_TRUSTED_PROXIES", "10.0.0.5, 10.42.0.0/16 ::1")
    assert make().trusted_proxies == ["10.0.0.5", "10.42.0.0/16", "::1"]
    monkeypatch.setenv("GARDENOS_TRUSTED_PROXIES", '["192.0.2.1"]')
    assert make().trusted_proxies == ["192.0.2.1"]
    for wrong in ("*", "proxy.internal"):
        monkeypatch.setenv("GARDENOS_TRUSTED_PROXIES", wrong)
        with pytest.raises(ValidationError, match="GARDENOS_TRUSTED_PROXIES"):
            make()
