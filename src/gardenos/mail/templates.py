"""The auth mails' wording: each kind rendered to (subject, plain text, HTML), in GoTrue's plain style.

Every value that a user or an agency chose (addresses, agency names, links) is escaped in the HTML
part; links must be http(s), so a crafted redirect cannot become a `javascript:` link.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from gardenos.mail.mailer import AuthMailKind, OutgoingMail


@dataclass(frozen=True)
class _Wording:
    subject: str
    heading: str
    intro: str  # may name {email}, {new_email}, {agency}, {site}
    action: str  # the link's label


_WORDING: dict[AuthMailKind, _Wording] = {
    "confirmation": _Wording(
        subject="Confirm your signup",
        heading="Confirm your signup",
        intro="Follow this link to confirm your email address {email} and finish signing up to {site}:",
        action="Confirm your email address",
    ),
    "magic_link": _Wording(
        subject="Your Magic Link",
        heading="Your Magic Link",
        intro="Follow this link to log in to {site} as {email}:",
        action="Log in",
    ),
    "otp": _Wording(
        subject="Your login code",
        heading="Your login code",
        intro="Enter this code to log in to {site} as {email}:",
        action="Log in",
    ),
    "recovery": _Wording(
        subject="Reset Password",
        heading="Reset your password",
        intro="Follow this link to reset the password of {email} on {site}:",
        action="Reset password",
    ),
    "email_change": _Wording(
        subject="Confirm email change",
        heading="Confirm your email address change",
        intro="Follow this link to confirm the change of your email address on {site} from {email} "
        "to {new_email}:",
        action="Confirm the change",
    ),
    "invite": _Wording(
        subject="You have been invited",
        heading="You have been invited",
        intro="You have been invited to join {agency} on {site} as {email}. Follow this link to accept "
        "the invite:",
        action="Accept the invite",
    ),
}

_IGNORE = "If you did not ask for this, you can ignore this mail."


def render(
    kind: AuthMailKind,
    *,
    site_name: str,
    link: str | None,
    code: str | None,
    email: str,
    agency_name: str | None = None,
    new_email: str | None = None,
) -> tuple[str, str, str]:
    """(subject, text, html) for one mail. Every kind needs the `link`; `otp` also needs the `code`,
    which the other kinds show as an alternative when given. `email` is the account's address;
    `new_email` is the address an `email_change` moves to (the mail goes there)."""
    wording = _WORDING[kind]
    if link is None:
        raise ValueError(f"a {kind} mail needs a link")
    if urlsplit(link).scheme not in ("http", "https"):
        raise ValueError(f"mail links must be http(s), not {link!r}")
    if kind == "otp" and not code:
        raise ValueError("an otp mail needs the code")

    values = {
        "email": email,
        "new_email": new_email or email,
        "agency": agency_name or site_name,
        "site": site_name,
    }
    subject = wording.subject
    if kind == "invite" and agency_name:
        subject = f"You have been invited to {agency_name}"
    # A subject is one header line: a line break in an agency's name must not end it.
    subject = " ".join(subject.split())

    intro_text = wording.intro.format(**values)
    intro_html = wording.intro.format(**{k: f"<strong>{escape(v)}</strong>" for k, v in values.items()})

    text_lines = [wording.heading, "", intro_text, ""]
    if kind == "otp":
        text_lines += [f"    {code}", "", "Or follow this link:", ""]
    text_lines += [link, ""]
    if code and kind != "otp":
        text_lines += [f"Alternatively, enter the code: {code}", ""]
    text_lines += [_IGNORE, "", f"— {site_name}"]
    text = "\n".join(text_lines) + "\n"

    href = escape(link, quote=True)
    parts = [f"<h2>{escape(wording.heading)}</h2>", f"<p>{intro_html}</p>"]
    if kind == "otp":
        parts += [
            f'<p style="font-size:24px;font-weight:bold;letter-spacing:4px">{escape(code or "")}</p>',
            "<p>Or follow this link:</p>",
        ]
    parts.append(f'<p><a href="{href}">{escape(wording.action)}</a></p>')
    if code and kind != "otp":
        parts.append(f"<p>Alternatively, enter the code: <strong>{escape(code)}</strong></p>")
    parts += [f"<p>{escape(_IGNORE)}</p>", f"<p>— {escape(site_name)}</p>"]
    html = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>\n"
        '<body style="font-family:sans-serif;line-height:1.5">\n' + "\n".join(parts) + "\n</body></html>\n"
    )
    return subject, text, html


def compose(
    kind: AuthMailKind,
    *,
    to: str,
    site_name: str,
    link: str | None,
    code: str | None = None,
    email: str | None = None,
    agency_name: str | None = None,
    new_email: str | None = None,
) -> OutgoingMail:
    """The mail for `kind`, addressed to `to` (whose account address `email` defaults to `to`)."""
    subject, text, html = render(
        kind,
        site_name=site_name,
        link=link,
        code=code,
        email=email or to,
        agency_name=agency_name,
        new_email=new_email,
    )
    return OutgoingMail(to=to, subject=subject, text=text, html=html, kind=kind)
