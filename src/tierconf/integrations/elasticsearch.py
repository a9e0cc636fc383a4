"""ElasticSearch from the configuration: a client with timeouts and retries, and a probe.

::

    elasticsearch_spec(settings, password=...)   pure: settings -> ElasticsearchSpec
    create_client(spec)                           elasticsearch.Elasticsearch (connects lazily)
    probe_elasticsearch(spec, timeout)            cluster info, no retries, bounded
    spec.index("tracks")                          "spotify-ai-tracks" (the index prefix)

Needs the ``integrations`` extra (elasticsearch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tierconf.errors import missing_extra
from tierconf.integrations._probe import ProbeResult, timed_probe
from tierconf.schema._database import ElasticsearchSettings

try:
    import elasticsearch
    from elastic_transport import TransportError
except ImportError as exc:
    raise missing_extra(exc.name or "elasticsearch", "integrations") from exc

__all__ = ["ElasticsearchSpec", "create_client", "elasticsearch_spec", "probe_elasticsearch"]


@dataclass(frozen=True, kw_only=True)
class ElasticsearchSpec:
    """Everything the client is built from; ``repr`` never shows the password."""

    scheme: str
    host: str
    port: int
    user: str
    password: str | None = field(repr=False)
    request_timeout: int
    max_retries: int
    verify_certs: bool
    index_prefix: str

    @property
    def target(self) -> str:
        """The node URL (no credentials)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def index(self, name: str) -> str:
        """The full name of the application's index ``name``."""
        return f"{self.index_prefix}-{name}"

    def client_kwargs(self) -> dict[str, Any]:
        """``Elasticsearch`` keyword arguments."""
        kwargs: dict[str, Any] = {
            "hosts": [self.target],
            "request_timeout": self.request_timeout,
            "max_retries": self.max_retries,
            "retry_on_timeout": self.max_retries > 0,
            "verify_certs": self.verify_certs,
        }
        if self.password is not None:
            kwargs["basic_auth"] = (self.user, self.password)
        return kwargs


def elasticsearch_spec(settings: ElasticsearchSettings, *, password: str | None) -> ElasticsearchSpec:
    """The client spec ``database.elasticsearch`` describes (no I/O)."""
    return ElasticsearchSpec(
        scheme=settings.scheme,
        host=settings.host,
        port=settings.port,
        user=settings.user,
        password=password,
        request_timeout=settings.request_timeout,
        max_retries=settings.max_retries,
        verify_certs=settings.verify_certs,
        index_prefix=settings.index_prefix,
    )


def create_client(spec: ElasticsearchSpec) -> elasticsearch.Elasticsearch:
    """An ``Elasticsearch`` client with the timeouts and retries of ``spec`` (no I/O yet)."""
    return elasticsearch.Elasticsearch(**spec.client_kwargs())


def probe_elasticsearch(spec: ElasticsearchSpec, timeout: float) -> ProbeResult:
    """Cluster info within ``timeout`` seconds, without retries, on a short-lived client."""

    def check() -> dict[str, object]:
        kwargs = spec.client_kwargs()
        # The application's client already warned about verify_certs=False once.
        kwargs.update(request_timeout=timeout, max_retries=0, retry_on_timeout=False, ssl_show_warn=False)
        client = elasticsearch.Elasticsearch(**kwargs)
        try:
            info = client.info()
        finally:
            client.close()
        return {"cluster_name": info.get("cluster_name"), "version": info.get("version", {}).get("number")}

    return timed_probe(spec.target, check, (TransportError, elasticsearch.ApiError), secrets=(spec.password,))
