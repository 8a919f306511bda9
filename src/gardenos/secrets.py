"""Secrets GardenOS generates for itself on first start, kept in `<data_dir>/secrets.json` (mode 0600).

A setting (`GARDENOS_JWT_SECRET`, `GARDENOS_AUTHENTICATOR_PASSWORD`) wins over the generated value, so
production can inject them from its own secret store.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass

from gardenos.settings import Settings


@dataclass(frozen=True)
class ProjectSecrets:
    jwt_secret: str
    authenticator_password: str


def load_or_create(settings: Settings) -> ProjectSecrets:
    path = settings.data_path / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    generated = {
        "jwt_secret": stored.get("jwt_secret") or secrets.token_urlsafe(48),
        "authenticator_password": stored.get("authenticator_password") or secrets.token_urlsafe(24),
    }
    if generated != stored:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(generated, f)
        tmp.replace(path)
    result = ProjectSecrets(**generated)
    overrides = {
        "jwt_secret": settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        "authenticator_password": settings.authenticator_password,
    }
    return ProjectSecrets(**{k: overrides[k] or v for k, v in asdict(result).items()})
