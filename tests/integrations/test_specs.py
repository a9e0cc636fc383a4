"""Specs are pure functions of the settings: what each client is built from, without I/O."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from tierconf.integrations import elasticsearch_spec, engine_specs, mongo_spec, redis_specs
from tierconf.integrations.postgres import application_name, create_engine, spec_changes
from tierconf.schema import TierConfig

BASE = TierConfig.model_validate(
    {
        "database": {
            "postgres": {
                "host": "pg-primary",
                "pool_size": 12,
                "max_overflow": 3,
                "pool_timeout": 7,
                "pool_recycle": 900,
                "pool_pre_ping": False,
                "sslmode": "verify-full",
                "statement_timeout": 1500,
                "connect_timeout": 4,
                "read_replica": {"enabled": True, "host": "pg-replica", "port": 6432, "pool_size": 20},
            }
        }
    }
)


class TestEngineSpecs:
    """database.postgres becomes one spec per server."""

    def test_primary_carries_pool_and_connection_settings(self) -> None:
        """Every pool and connection setting reaches the primary's spec."""
        primary = engine_specs(BASE.database.postgres, password="pw", tenant="acme").primary
        assert (primary.host, primary.port, primary.pool_size, primary.max_overflow) == (
            "pg-primary",
            5432,
            12,
            3,
        )
        assert (primary.pool_timeout, primary.pool_recycle, primary.pool_pre_ping) == (7, 900, False)
        assert primary.connect_args() == {
            "sslmode": "verify-full",
            "connect_timeout": 4,
            "application_name": "spotify-ai-agent/acme",
            "options": "-c statement_timeout=1500",
        }

    def test_replica_has_its_own_address_and_pool(self) -> None:
        """The replica shares credentials and timeouts but not host, port or pool."""
        specs = engine_specs(BASE.database.postgres, password="pw")
        assert specs.replica is not None
        assert (specs.replica.target, specs.replica.pool_size, specs.replica.max_overflow) == (
            "pg-replica:6432",
            20,
            5,
        )
        assert specs.replica.sslmode == specs.primary.sslmode == "verify-full"

    def test_no_replica_unless_enabled_with_a_host(self) -> None:
        """A disabled replica, or one without host, gives no replica spec."""
        disabled = BASE.database.postgres.read_replica.model_copy(update={"enabled": False})
        settings = BASE.database.postgres.model_copy(update={"read_replica": disabled})
        assert engine_specs(settings, password=None).replica is None

    def test_password_never_shows(self) -> None:
        """Neither repr nor the list of changes shows the password."""
        old = engine_specs(BASE.database.postgres, password="s3cret-old").primary
        new = engine_specs(BASE.database.postgres, password="s3cret-new").primary
        assert "s3cret" not in repr(old)
        assert spec_changes(old, new) == ["password"]
        assert "s3cret" not in repr(create_engine(old))

    def test_application_name_fits_postgres_limit(self) -> None:
        """application_name is cut to the 63 bytes PostgreSQL keeps."""
        assert application_name("app", None) == "app"
        assert len(application_name("a" * 60, "tenant-with-a-long-name").encode()) == 63

    def test_engine_is_built_with_the_spec(self) -> None:
        """create_engine uses the psycopg 3 driver and the pool of the spec, without connecting."""
        engine = create_engine(engine_specs(BASE.database.postgres, password=None).primary)
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.pool.size() == 12  # type: ignore[attr-defined]
        engine.dispose()


class TestRedisSpecs:
    """database.redis becomes the cache and session-store specs."""

    def test_cache_and_sessions_differ_only_by_db(self) -> None:
        """Both clients share every setting except the db index."""
        specs = redis_specs(BASE.database.redis, password="pw", client_name="svc")
        assert (specs.cache.db, specs.sessions.db) == (0, 1)
        assert specs.cache.max_connections == 50 and specs.cache.client_name == "svc"

    def test_tls_verification_follows_the_settings(self) -> None:
        """tls_verify false turns certificate and hostname checks off."""
        settings = BASE.database.redis.model_copy(update={"tls_verify": False})
        kwargs = redis_specs(settings, password=None).cache.connection_kwargs()
        assert (kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"]) == ("none", False)

    @pytest.mark.parametrize(("retry_on_timeout", "error"), [(True, redis.TimeoutError), (False, None)])
    def test_timeouts_are_retried_only_when_configured(
        self, retry_on_timeout: bool, error: type[Exception] | None
    ) -> None:
        """A timed-out command is retried once only with retry_on_timeout; a lost connection always."""
        settings = BASE.database.redis.model_copy(update={"retry_on_timeout": retry_on_timeout})
        retry = redis_specs(settings, password=None).cache.connection_kwargs()["retry"]
        assert retry.get_retries() == 1
        assert retry.call_with_retry(flaky(redis.ConnectionError), lambda exc: None) == "ok"
        if error is None:
            with pytest.raises(redis.TimeoutError):
                retry.call_with_retry(flaky(redis.TimeoutError), lambda exc: None)
        else:
            assert retry.call_with_retry(flaky(error), lambda exc: None) == "ok"


def flaky(error: type[Exception]) -> Callable[[], str]:
    """A command that fails once with ``error``, then answers ``ok``."""
    calls: list[int] = []

    def command() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise error("first attempt fails")
        return "ok"

    return command


class TestMongoAndElasticsearchSpecs:
    """database.mongodb and database.elasticsearch become client specs."""

    def test_mongo_authenticates_only_with_a_password(self) -> None:
        """Without a password the client connects unauthenticated."""
        kwargs = mongo_spec(BASE.database.mongodb, password=None).client_kwargs()
        assert "username" not in kwargs and kwargs["maxPoolSize"] == 50
        with_password = mongo_spec(BASE.database.mongodb, password="pw").client_kwargs()
        assert with_password["authSource"] == "spotify_ai_analytics"

    def test_elasticsearch_spec(self) -> None:
        """URL, timeout, retries and the index prefix come from the settings; repr hides the password."""
        spec = elasticsearch_spec(BASE.database.elasticsearch, password="s3cret")
        assert spec.target == "https://elasticsearch:9200"
        assert spec.index("tracks") == "spotify-ai-tracks"
        kwargs = spec.client_kwargs()
        assert (kwargs["request_timeout"], kwargs["max_retries"]) == (30, 3)
        assert kwargs["basic_auth"] == ("spotify_ai_agent", "s3cret")
        assert "s3cret" not in repr(spec)
