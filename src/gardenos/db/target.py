"""Which PostgreSQL GardenOS uses: the embedded one (default) or `GARDENOS_DATABASE_URL`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gardenos.db.connect import connect
from gardenos.db.migrate import Migration, migrate, set_login_password
from gardenos.embedded.postgres import EmbeddedPostgres
from gardenos.errors import ConfigurationError
from gardenos.secrets import ProjectSecrets, load_or_create
from gardenos.settings import Settings

API_LOGIN_ROLE = "authenticator"


class DatabaseTarget:
    """The database's two logins: the owner (migrations, CLI) and `authenticator` (the API).

    Which server: `GARDENOS_DATABASE_URL` when set; else, in cluster mode, the URL that `cluster_url`
    finds (asked each time: the cluster may be created after this target); else the embedded server.
    The cluster's URL is passed in because db/ stands below the cluster launcher and never imports it
    (`gardenos.cli.target.database_target` builds targets for the CLI)."""

    def __init__(
        self,
        settings: Settings,
        secrets: ProjectSecrets | None = None,
        *,
        cluster_url: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets or load_or_create(settings)
        self.cluster_url = cluster_url
        self.embedded: EmbeddedPostgres | None = None
        if settings.database_url is None and not settings.cluster:
            self.embedded = EmbeddedPostgres(
                settings.data_path,
                port=settings.pg_port,
                service_user=settings.service_user,
                runtime_dir=settings.runtime_dir,
            )

    @property
    def owner_url(self) -> str:
        if self.embedded is not None:
            return self.embedded.url()
        if self.settings.cluster and self.settings.database_url is None:
            if self.cluster_url is None:
                raise ConfigurationError(
                    "cluster mode, but this database target was not told where the cluster is",
                    hint="build it with gardenos.cli.target.database_target",
                )
            return self.cluster_url()
        assert self.settings.database_url is not None
        return self.settings.database_url

    @property
    def api_url(self) -> str:
        params = conninfo_to_dict(self.owner_url)
        params.update(user=API_LOGIN_ROLE, password=self.secrets.authenticator_password)
        params.setdefault("application_name", "gardenos-api")
        return make_conninfo("", **params)

    def describe(self) -> str:
        """The owner URL without its password, for people to read."""
        params = conninfo_to_dict(self.owner_url)
        params.pop("password", None)
        return make_conninfo("", **params)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Make sure the database runs for the duration; stop it afterwards only if we started it."""
        if self.embedded is None or self.embedded.is_running():
            yield
            return
        self.embedded.start()
        try:
            yield
        finally:
            self.embedded.stop()

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection:
        """A direct connection as the owner (CLI commands, bulk loads)."""
        return connect(self.owner_url, autocommit=autocommit)

    def prepare(self) -> list[Migration]:
        """Migrate, and give the API's login role its password."""
        applied = migrate(self.owner_url)
        set_login_password(self.owner_url, API_LOGIN_ROLE, self.secrets.authenticator_password)
        return applied
