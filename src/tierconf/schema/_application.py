"""The ``application`` domain: the FastAPI backend's runtime, scaling, CORS, uploads and limits.

Rendered into the ``spotify-ai-agent-config`` ConfigMap. Defaults are production-leaning
(debug off, no CORS origin allowed); the tiers in ``bundled/environments`` loosen them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tierconf.schema._fields import DOMAIN_MODEL_CONFIG, group, setting

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Environment = Literal["local", "development", "staging", "production"]
ApiVersion = Literal["v1", "v2"]

__all__ = [
    "ApiVersion",
    "ApplicationConfig",
    "BusinessLimits",
    "CacheSettings",
    "CorsSettings",
    "Environment",
    "LogLevel",
    "ScalingSettings",
    "ServerSettings",
    "UploadSettings",
]


class ServerSettings(BaseModel):
    """The ASGI server (gunicorn + uvicorn workers) of each API pod."""

    model_config = DOMAIN_MODEL_CONFIG

    host: str = setting(
        "0.0.0.0",  # noqa: S104 - a container must listen on every interface of its pod
        key="SERVER_HOST",
        description="Address the API server binds to inside the container.",
        min_length=1,
    )
    port: int = setting(
        8000, key="SERVER_PORT", description="TCP port the API server listens on.", ge=1, le=65535
    )
    max_workers: int = setting(
        4,
        key="MAX_WORKERS",
        description="Worker processes per pod, each with its own connection pools.",
        unit="processes",
        ge=1,
        le=64,
    )
    worker_timeout: int = setting(
        30,
        key="WORKER_TIMEOUT",
        description="Seconds a silent worker may run before it is killed and restarted.",
        unit="seconds",
        ge=1,
        le=3600,
    )
    request_timeout: int = setting(
        30,
        key="REQUEST_TIMEOUT",
        description="Seconds an HTTP request may take before the server aborts it.",
        unit="seconds",
        ge=1,
        le=3600,
    )
    keepalive: int = setting(
        5,
        key="KEEPALIVE_TIMEOUT",
        description="Seconds an idle keep-alive connection is held open.",
        unit="seconds",
        ge=0,
        le=300,
    )
    graceful_timeout: int = setting(
        30,
        key="GRACEFUL_TIMEOUT",
        description="Seconds workers get to finish in-flight requests on shutdown.",
        unit="seconds",
        ge=1,
        le=600,
    )
    max_requests: int = setting(
        10000,
        key="WORKER_MAX_REQUESTS",
        description="Requests a worker serves before it is recycled (0 disables recycling).",
        unit="requests",
        ge=0,
        le=10_000_000,
    )


class ScalingSettings(BaseModel):
    """Horizontal pod autoscaling of the API deployment."""

    model_config = DOMAIN_MODEL_CONFIG

    auto_scaling_enabled: bool = setting(
        True,
        key="AUTO_SCALING_ENABLED",
        description="Whether a HorizontalPodAutoscaler scales the API deployment.",
    )
    min_replicas: int = setting(
        2,
        key="MIN_REPLICAS",
        description="Fewest API pods kept running.",
        unit="replicas",
        ge=1,
        le=500,
    )
    max_replicas: int = setting(
        10,
        key="MAX_REPLICAS",
        description="Most API pods the autoscaler may run.",
        unit="replicas",
        ge=1,
        le=500,
    )
    cpu_threshold: int = setting(
        70,
        key="CPU_THRESHOLD",
        description="Average CPU utilisation above which the autoscaler adds pods.",
        unit="percent",
        ge=1,
        le=100,
    )
    memory_threshold: int = setting(
        80,
        key="MEMORY_THRESHOLD",
        description="Average memory utilisation above which the autoscaler adds pods.",
        unit="percent",
        ge=1,
        le=100,
    )


class CorsSettings(BaseModel):
    """Cross-origin resource sharing for the web and partner front ends."""

    model_config = DOMAIN_MODEL_CONFIG

    allowed_origins: tuple[str, ...] = setting(
        (),
        key="ALLOWED_ORIGINS",
        description="Origins allowed to call the API from a browser, rendered comma-joined.",
        tenant=True,
        merge="merge",
    )
    allow_credentials: bool = setting(
        True,
        key="CORS_ALLOW_CREDENTIALS",
        description="Whether browsers may send cookies and Authorization headers cross-origin.",
    )
    allowed_methods: tuple[str, ...] = setting(
        ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"),
        key="CORS_ALLOWED_METHODS",
        description="HTTP methods allowed in cross-origin requests.",
    )
    allowed_headers: tuple[str, ...] = setting(
        ("Authorization", "Content-Type", "X-API-Key", "X-CSRF-Token", "X-Request-ID"),
        key="CORS_ALLOWED_HEADERS",
        description="Request headers allowed in cross-origin requests.",
    )
    max_age: int = setting(
        600,
        key="CORS_MAX_AGE",
        description="Seconds browsers may cache a preflight response.",
        unit="seconds",
        ge=0,
        le=86400,
    )


class UploadSettings(BaseModel):
    """Limits on files users upload (tracks, stems, artwork)."""

    model_config = DOMAIN_MODEL_CONFIG

    max_file_size_mb: int = setting(
        50,
        key="UPLOAD_MAX_FILE_SIZE_MB",
        description="Largest single uploaded file.",
        unit="MiB",
        tenant=True,
        ge=1,
        le=2048,
    )
    max_request_size_mb: int = setting(
        100,
        key="UPLOAD_MAX_REQUEST_SIZE_MB",
        description="Largest request body, all files of a multi-file upload together.",
        unit="MiB",
        tenant=True,
        ge=1,
        le=4096,
    )
    allowed_extensions: tuple[str, ...] = setting(
        ("mp3", "wav", "flac", "ogg", "m4a", "aac", "jpg", "png"),
        key="UPLOAD_ALLOWED_EXTENSIONS",
        description="File extensions (without the dot) accepted for upload.",
    )
    max_files_per_request: int = setting(
        10,
        key="UPLOAD_MAX_FILES_PER_REQUEST",
        description="Most files accepted in one upload request.",
        unit="files",
        tenant=True,
        ge=1,
        le=1000,
    )


class CacheSettings(BaseModel):
    """Application-level response and object cache (stored in Redis)."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(True, key="CACHE_ENABLED", description="Whether responses are cached.")
    default_ttl: int = setting(
        300,
        key="CACHE_DEFAULT_TTL",
        description="Lifetime of a cache entry when the caller gives none.",
        unit="seconds",
        tenant=True,
        ge=1,
        le=604800,
    )
    max_ttl: int = setting(
        86400,
        key="CACHE_MAX_TTL",
        description="Longest lifetime any cache entry may be given.",
        unit="seconds",
        ge=1,
        le=2592000,
    )
    max_size_mb: int = setting(
        512,
        key="CACHE_MAX_SIZE_MB",
        description="Memory budget of the cache.",
        unit="MiB",
        ge=1,
        le=1048576,
    )


class BusinessLimits(BaseModel):
    """Product quotas and limits of the business logic; tenant plans tune most of them."""

    model_config = DOMAIN_MODEL_CONFIG

    max_playlists_per_user: int = setting(
        500,
        key="MAX_PLAYLISTS_PER_USER",
        description="Most playlists one user may own.",
        unit="playlists",
        tenant=True,
        ge=1,
        le=100000,
    )
    max_tracks_per_playlist: int = setting(
        10000,
        key="MAX_TRACKS_PER_PLAYLIST",
        description="Most tracks one playlist may hold.",
        unit="tracks",
        tenant=True,
        ge=1,
        le=100000,
    )
    max_collaborators_per_playlist: int = setting(
        20,
        key="MAX_COLLABORATORS_PER_PLAYLIST",
        description="Most users who may edit one collaborative playlist.",
        unit="users",
        tenant=True,
        ge=1,
        le=1000,
    )
    search_timeout_seconds: int = setting(
        5,
        key="SEARCH_TIMEOUT_SECONDS",
        description="Seconds a catalogue search may take before it is cancelled.",
        unit="seconds",
        ge=1,
        le=120,
    )
    max_search_results: int = setting(
        100,
        key="SEARCH_MAX_RESULTS",
        description="Most results one search request returns.",
        unit="results",
        tenant=True,
        ge=1,
        le=10000,
    )
    default_page_size: int = setting(
        20,
        key="DEFAULT_PAGE_SIZE",
        description="Items per page when a list request gives no page size.",
        unit="items",
        ge=1,
        le=1000,
    )
    max_page_size: int = setting(
        100,
        key="MAX_PAGE_SIZE",
        description="Largest page size a list request may ask for.",
        unit="items",
        ge=1,
        le=1000,
    )


class ApplicationConfig(BaseModel):
    """The ``application`` domain: runtime behaviour of the API service."""

    model_config = DOMAIN_MODEL_CONFIG

    debug: bool = setting(
        False, key="DEBUG", description="Debug mode: verbose errors and tracebacks in responses."
    )
    log_level: LogLevel = setting(
        "INFO", key="LOG_LEVEL", description="Lowest severity of log records that are emitted."
    )
    environment: Environment = setting(
        "development",
        key="ENVIRONMENT",
        description="Tier the configuration was rendered for; set by tierconf from the tier.",
        derived=True,
    )
    api_version: ApiVersion = setting(
        "v2", key="API_VERSION", description="Version of the public API served by default."
    )
    server: ServerSettings = group(ServerSettings)
    scaling: ScalingSettings = group(ScalingSettings)
    cors: CorsSettings = group(CorsSettings)
    uploads: UploadSettings = group(UploadSettings)
    cache: CacheSettings = group(CacheSettings)
    business: BusinessLimits = group(BusinessLimits)
