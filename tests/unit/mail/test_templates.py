"""Every auth mail renders with its link (and code), and nothing a user chose reaches the HTML unescaped."""

from __future__ import annotations

from typing import get_args

import pytest

from gardenos.mail.mailer import AuthMailKind
from gardenos.mail.templates import compose, render

LINK = "https://crm.example.com/auth/v1/verify?token=abc123&type=signup&redirect_to=https%3A%2F%2Fapp"
KINDS: tuple[AuthMailKind, ...] = get_args(AuthMailKind)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_its_link(kind: AuthMailKind) -> None:
    subject, text, html = render(
        kind, site_name="GardenOS", link=LINK, code="123456", email="ann@example.com", agency_name="Acme"
    )
    assert subject
    assert "\n" not in subject
    assert LINK in text
    # In HTML the `&` of the query string is an entity, as an href attribute requires.
    assert 'href="https://crm.example.com/auth/v1/verify?token=abc123&amp;type=signup' in html
    assert "ann@example.com" in text
    assert "ann@example.com" in html
    assert "123456" in text
    assert "123456" in html
    assert html.startswith("<!DOCTYPE html>")


def test_gotrue_like_subjects() -> None:
    def subject(kind: AuthMailKind, **extra: str) -> str:
        return render(kind, site_name="GardenOS", link=LINK, code="123456", email="a@b.example", **extra)[0]

    assert subject("confirmation") == "Confirm your signup"
    assert subject("magic_link") == "Your Magic Link"
    assert subject("recovery") == "Reset Password"
    assert subject("invite") == "You have been invited"
    assert subject("invite", agency_name="Acme") == "You have been invited to Acme"


def test_otp_mail_shows_the_code_and_the_link() -> None:
    _subject, text, html = render(
        "otp", site_name="GardenOS", link=LINK, code="042917", email="ann@example.com"
    )
    assert "    042917\n" in text
    assert text.index("042917") < text.index(LINK)
    assert ">042917</p>" in html
    with pytest.raises(ValueError, match="code"):
        render("otp", site_name="GardenOS", link=LINK, code=None, email="ann@example.com")


def test_email_change_names_both_addresses() -> None:
    _subject, text, _html = render(
        "email_change",
        site_name="GardenOS",
        link=LINK,
        code=None,
        email="old@example.com",
        new_email="new@example.com",
    )
    assert "from old@example.com to new@example.com" in text


def test_html_escapes_hostile_email_and_agency_name() -> None:
    email = '"><script>alert(1)</script>@evil.example'
    agency = "<img src=x onerror=alert(2)> & Co\r\nBcc: victim@example.com"
    subject, text, html = render(
        "invite", site_name="<b>Site</b>", link=LINK, code=None, email=email, agency_name=agency
    )
    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>Site</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt; &amp; Co" in html
    # Plain text shows them as typed; the subject stays one header line.
    assert email in text
    assert "\r" not in subject
    assert "\n" not in subject


def test_links_must_be_http() -> None:
    for link in ("javascript:alert(1)", "data:text/html,hi", "//evil.example/x"):
        with pytest.raises(ValueError, match="http"):
            render("magic_link", site_name="GardenOS", link=link, code=None, email="a@b.example")
    with pytest.raises(ValueError, match="needs a link"):
        render("recovery", site_name="GardenOS", link=None, code=None, email="a@b.example")


def test_compose_addresses_the_mail() -> None:
    mail = compose("magic_link", to="ann@example.com", site_name="GardenOS", link=LINK)
    assert mail.to == "ann@example.com"
    assert mail.kind == "magic_link"
    assert mail.subject == "Your Magic Link"
    assert LINK in mail.text
