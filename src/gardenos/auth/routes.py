"""`/auth/v1`: GoTrue's routes, bodies, status codes and error shapes, for the official Supabase clients."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from gardenos import __version__
from gardenos.api.deps import client_ip
from gardenos.auth.admin import AdminService
from gardenos.auth.principal import CallerDep, TokensDep
from gardenos.auth.service import AuthService, ClientInfo, LogoutScope
from gardenos.errors import BadRequest, GardenError

router = APIRouter(prefix="/auth/v1", tags=["auth"])


def auth_of(request: Request) -> AuthService:
    auth: AuthService = request.app.state.auth
    return auth


async def get_auth(request: Request) -> AuthService:
    return auth_of(request)


async def get_admin(request: Request, principal: CallerDep) -> AdminService:
    principal.require_service_role()
    return AdminService(auth_of(request))


async def client_info(request: Request) -> ClientInfo:
    return ClientInfo(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


AuthDep = Annotated[AuthService, Depends(get_auth)]
AdminDep = Annotated[AdminService, Depends(get_admin)]
ClientDep = Annotated[ClientInfo, Depends(client_info)]
RedirectTo = Annotated[str | None, Query(description="where the emailed link leads after verification")]


class _Body(BaseModel):
    # Clients send more than we read (captcha tokens, PKCE challenges): ignore it rather than refuse.
    model_config = ConfigDict(extra="ignore")


class SignupBody(_Body):
    email: str | None = None
    phone: str | None = None
    password: str
    data: dict[str, Any] | None = None


class PasswordGrant(_Body):
    email: str | None = None
    phone: str | None = None
    password: str


class RefreshGrant(_Body):
    refresh_token: str


class EmailBody(_Body):
    email: str


class OtpBody(_Body):
    email: str | None = None
    phone: str | None = None
    create_user: bool = True
    data: dict[str, Any] | None = None


class VerifyBody(_Body):
    type: str
    token: str | None = None
    token_hash: str | None = None
    email: str | None = None
    phone: str | None = None
    redirect_to: str | None = None


class UserUpdate(_Body):
    email: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None


@router.get("/health")
async def health() -> dict[str, str]:
    return {"version": __version__, "name": "GoTrue", "description": "GardenOS auth (GoTrue-compatible)"}


@router.get("/settings")
async def settings(auth: AuthDep) -> dict[str, Any]:
    s = auth.settings
    external = {"email": True, "phone": False, "anonymous_users": False}
    return {
        "external": external,
        "disable_signup": s.disable_signup,
        "mailer_autoconfirm": s.mailer_autoconfirm,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
    }


@router.get("/.well-known/jwks.json")
async def jwks(tokens: TokensDep) -> dict[str, Any]:
    return tokens.jwks()


@router.post("/signup")
async def signup(
    body: SignupBody,
    auth: AuthDep,
    principal: CallerDep,
    client: ClientDep,
    background: BackgroundTasks,
    redirect_to: RedirectTo = None,
) -> dict[str, Any]:
    """Mails leave after the answer, so that neither it nor its timing tells whether the address has
    an account."""
    if body.email is None:
        raise BadRequest(
            "sign-up needs an email (phone sign-up is not enabled)", error_code="phone_provider_disabled"
        )
    answer, mail = await auth.signup(body.email, body.password, body.data or {}, redirect_to, client)
    if mail is not None:
        background.add_task(auth.send_later, mail)
    return answer


_Grant = TypeVar("_Grant", bound=_Body)


def _grant(model: type[_Grant], body: dict[str, Any]) -> _Grant:
    """The body of one grant type, or the 400 a malformed body of any route gets (the field named)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


@router.post("/token")
async def token(
    auth: AuthDep,
    principal: CallerDep,
    client: ClientDep,
    grant_type: Annotated[str, Query()],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    if grant_type == "password":
        grant = _grant(PasswordGrant, body)
        if grant.email is None:
            raise BadRequest("sign-in needs an email (phone sign-in is not enabled)")
        return await auth.password_grant(grant.email, grant.password, client)
    if grant_type == "refresh_token":
        return await auth.refresh_grant(_grant(RefreshGrant, body).refresh_token)
    raise GardenError(
        f"unsupported grant_type {grant_type!r}: use password or refresh_token",
        status_code=400,
        error_code="validation_failed",
    )


@router.post("/logout", status_code=204)
async def logout(
    auth: AuthDep,
    principal: CallerDep,
    scope: Annotated[Literal["global", "local", "others"], Query()] = "global",
) -> Response:
    s: LogoutScope = scope
    await auth.logout(principal, s)
    return Response(status_code=204)


@router.get("/user")
async def get_user(auth: AuthDep, principal: CallerDep) -> dict[str, Any]:
    return await auth.get_user(principal)


@router.put("/user")
async def update_user(
    body: UserUpdate,
    auth: AuthDep,
    principal: CallerDep,
    client: ClientDep,
    redirect_to: RedirectTo = None,
) -> dict[str, Any]:
    return await auth.update_user(
        principal,
        email=body.email,
        password=body.password,
        data=body.data,
        redirect_to=redirect_to,
        client=client,
    )


@router.post("/recover")
async def recover(
    body: EmailBody,
    auth: AuthDep,
    principal: CallerDep,
    client: ClientDep,
    background: BackgroundTasks,
    redirect_to: RedirectTo = None,
) -> dict[str, Any]:
    mail = await auth.recover(body.email, redirect_to, client)
    if mail is not None:
        background.add_task(auth.send_later, mail)
    return {}


@router.post("/otp")
async def otp(
    body: OtpBody,
    auth: AuthDep,
    principal: CallerDep,
    client: ClientDep,
    background: BackgroundTasks,
    redirect_to: RedirectTo = None,
) -> dict[str, Any]:
    if body.email is None:
        raise BadRequest(
            "an email is needed (phone sign-in is not enabled)", error_code="phone_provider_disabled"
        )
    mail = await auth.send_otp(
        body.email, create_user=body.create_user, data=body.data or {}, redirect_to=redirect_to, client=client
    )
    if mail is not None:
        background.add_task(auth.send_later, mail)
    return {}


@router.post("/magiclink")
async def magiclink(
    body: EmailBody,
    auth: AuthDep,
    principal: CallerDep,
    client: ClientDep,
    background: BackgroundTasks,
    redirect_to: RedirectTo = None,
) -> dict[str, Any]:
    mail = await auth.send_otp(body.email, create_user=True, data={}, redirect_to=redirect_to, client=client)
    if mail is not None:
        background.add_task(auth.send_later, mail)
    return {}


@router.post("/verify")
async def verify(body: VerifyBody, auth: AuthDep, principal: CallerDep, client: ClientDep) -> dict[str, Any]:
    verified = await auth.verify(
        body.type, link_token=body.token_hash, email=body.email, code=body.token, client=client
    )
    return verified.session


@router.get("/verify", response_class=RedirectResponse, status_code=303)
async def verify_link(
    auth: AuthDep,
    client: ClientDep,
    token: Annotated[str, Query()],
    type: Annotated[str, Query()],
    redirect_to: RedirectTo = None,
) -> RedirectResponse:
    """The emailed link: no API key (a mail client follows it); the session goes to the site in the URL
    fragment, as GoTrue's implicit flow, so it never reaches a server log."""
    fallback = auth.safe_redirect(redirect_to) or auth.settings.site_url
    try:
        verified = await auth.verify(type, link_token=token, email=None, code=None, client=client)
    except GardenError as exc:
        error = {
            "error": "access_denied",
            "error_code": exc.error_code or "otp_expired",
            "error_description": "Email link is invalid or has expired",
        }
        return RedirectResponse(f"{fallback}#{urlencode(error)}", status_code=303)
    target = auth.safe_redirect(verified.redirect_to or redirect_to) or auth.settings.site_url
    session = verified.session
    fragment = {
        "access_token": session["access_token"],
        "expires_at": session["expires_at"],
        "expires_in": session["expires_in"],
        "refresh_token": session["refresh_token"],
        "token_type": "bearer",
        "type": verified.token_type,
    }
    return RedirectResponse(f"{target}#{urlencode(fragment)}", status_code=303)


@router.post("/invite")
async def invite(
    body: EmailBody, admin: AdminDep, client: ClientDep, redirect_to: RedirectTo = None
) -> dict[str, Any]:
    return await admin.invite(body.email, redirect_to, client)


@router.get("/admin/users")
async def list_users(
    admin: AdminDep,
    page_param: Annotated[str | None, Query(alias="page")] = None,
    per_page_param: Annotated[str | None, Query(alias="per_page")] = None,
) -> JSONResponse:
    # The client sends `page=` (empty) when no page is given.
    page = _positive_int(page_param, "page", default=1, maximum=1_000_000)
    per_page = _positive_int(per_page_param, "per_page", default=50, maximum=1000)
    users, total = await admin.list_users(page, per_page)
    response = JSONResponse({"users": users, "aud": "authenticated"})
    response.headers["X-Total-Count"] = str(total)
    last = max(1, -(-total // per_page))
    links = [f'</auth/v1/admin/users?page={last}&per_page={per_page}>; rel="last"']
    if page < last:
        links.insert(0, f'</auth/v1/admin/users?page={page + 1}&per_page={per_page}>; rel="next"')
    response.headers["Link"] = ", ".join(links)
    return response


@router.post("/admin/users")
async def create_user(admin: AdminDep, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return await admin.create_user(body)


@router.get("/admin/users/{user_id}")
async def admin_get_user(user_id: uuid.UUID, admin: AdminDep) -> dict[str, Any]:
    return await admin.get_user(user_id)


@router.put("/admin/users/{user_id}")
async def admin_update_user(
    user_id: uuid.UUID, admin: AdminDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    return await admin.update_user(user_id, body)


@router.delete("/admin/users/{user_id}")
async def admin_delete_user(user_id: uuid.UUID, admin: AdminDep, request: Request) -> dict[str, Any]:
    body = await request.json() if await request.body() else {}
    await admin.delete_user(user_id, soft=bool(isinstance(body, dict) and body.get("should_soft_delete")))
    return {}


@router.post("/admin/generate_link")
async def generate_link(
    admin: AdminDep, body: Annotated[dict[str, Any], Body()], redirect_to: RedirectTo = None
) -> dict[str, Any]:
    if redirect_to and not body.get("redirect_to"):
        body = {**body, "redirect_to": redirect_to}
    return await admin.generate_link(body)


def _positive_int(value: str | None, name: str, *, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise BadRequest(f"{name} must be a whole number from 1 to {maximum}, not {value!r}")
    return int(value)
