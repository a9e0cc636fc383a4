"""``EtcdConfig``: what an ``etcd://`` URL says, parsed once into frozen data. Pure.

Accepted forms (one scheme for every endpoint of the list)::

    etcd://HOST:PORT[,HOST:PORT...][?OPTIONS]          plain HTTP to the v3 JSON gateway
    etcds://HOST:PORT[,HOST:PORT...][?OPTIONS]         TLS
    http://HOST:PORT / https://HOST:PORT               as etcdctl's --endpoints spell them
    etcd://USER[:PASSWORD]@HOST:PORT,...               user/password auth (see below)

Options (query string): ``ca=PATH`` (CA bundle, implies TLS), ``cert=PATH`` and ``key=PATH``
(TLS client certificate, both or neither, imply TLS), ``user=NAME``,
``password_env=VAR`` (read the password from that environment variable when the client
is opened), ``prefix=/tierconf`` (root of every key tierconf writes), ``app=NAME``
(default: the project's app name) and ``timeout=SECONDS`` (per request, default 5).
A user without a password reads ``TIERCONF_ETCD_PASSWORD``. A password written in the
URL works but ends up in shell history: prefer ``password_env``.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field

from tierconf.errors import UsageError

DEFAULT_PORT = 2379
DEFAULT_PREFIX = "/tierconf"
PASSWORD_ENV = "TIERCONF_ETCD_PASSWORD"  # noqa: S105 - the variable's name, not a password
_SCHEMES = {"etcd": False, "http": False, "etcds": True, "https": True}
_OPTIONS = frozenset({"ca", "cert", "key", "user", "password_env", "prefix", "app", "timeout"})
ACCEPTED = "etcd://HOST:PORT[,HOST:PORT...] or etcds://... (TLS), with ?ca=&cert=&key=&user=&password_env="


@dataclass(frozen=True)
class EtcdConfig:
    """How to reach one etcd cluster.

    Attributes:
        endpoints: ``http(s)://host:port`` of each member, tried in this order.
        tls: Speak HTTPS (``etcds://``, ``https://``, or any certificate option).
        ca: CA bundle that signed the members' certificates (None: the system's).
        cert: Client certificate (PEM), for clusters with ``--client-cert-auth``.
        key: Its private key (PEM).
        user: User name for etcd's auth (None: no auth).
        password: Its password; never printed.
        prefix: Root of every key tierconf writes (``/tierconf``).
        app: The application segment of the key layout (None: the caller's default).
        timeout: Seconds one request may take before the next endpoint is tried.
        deadline: Seconds one call may spend failing over before it gives up (6 x timeout).
    """

    endpoints: tuple[str, ...]
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    prefix: str = DEFAULT_PREFIX
    app: str | None = None
    timeout: float = 5.0
    deadline: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> EtcdConfig:
        """Parse an etcd URL (see the module docstring).

        Raises:
            UsageError: the URL is malformed; the message shows the accepted forms.
        """
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in _SCHEMES:
            raise UsageError(f"etcd URL {_redact(url)!r} has an unknown scheme; expected {ACCEPTED}")
        # etcdctl spells a list as full URLs: http://a:2379,http://b:2379
        rest = re.sub(r",\s*https?://", ",", rest)
        netloc, _, query = rest.partition("?")
        netloc, slash, path = netloc.partition("/")
        if slash and path:
            raise UsageError(
                f"etcd URL {_redact(url)!r}: a path is not accepted; give the key prefix as ?prefix=/PATH"
            )
        userinfo, at, hosts = netloc.rpartition("@")
        if not at:
            hosts, userinfo = netloc, ""
        options = _parse_query(url, query)
        tls = _SCHEMES[scheme] or any(options.get(name) for name in ("ca", "cert", "key"))
        if bool(options.get("cert")) != bool(options.get("key")):
            raise UsageError(f"etcd URL {_redact(url)!r}: give both cert= and key= (or neither)")
        user, password = _credentials(url, userinfo, options)
        endpoints = tuple(_endpoint(url, item, tls) for item in hosts.split(","))
        prefix = options.get("prefix", DEFAULT_PREFIX).rstrip("/")
        if not prefix.startswith("/"):
            raise UsageError(f"etcd URL {_redact(url)!r}: prefix must start with '/', got {prefix!r}")
        try:
            timeout = float(options.get("timeout", "5"))
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 300:
            raise UsageError(f"etcd URL {_redact(url)!r}: timeout must be seconds in (0, 300]")
        return cls(
            endpoints=endpoints,
            tls=tls,
            ca=options.get("ca"),
            cert=options.get("cert"),
            key=options.get("key"),
            user=user,
            password=password,
            prefix=prefix,
            app=options.get("app"),
            timeout=timeout,
            deadline=6 * timeout,
        )

    @property
    def name(self) -> str:
        """How this cluster is named in messages: scheme and endpoints, no credentials."""
        scheme = "etcds" if self.tls else "etcd"
        hosts = ",".join(e.split("://", 1)[1] for e in self.endpoints)
        return f"{scheme}://{hosts}"


def _redact(url: str) -> str:
    """The URL with any password in its user info replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hosts = rest.partition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{hosts}"


def _parse_query(url: str, query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if name not in _OPTIONS:
            raise UsageError(
                f"etcd URL {_redact(url)!r}: unknown option {name!r}; known: {', '.join(sorted(_OPTIONS))}"
            )
        options[name] = value
    return options


def _credentials(url: str, userinfo: str, options: dict[str, str]) -> tuple[str | None, str | None]:
    user: str | None = None
    password: str | None = None
    if userinfo:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = urllib.parse.unquote(raw_user)
        password = urllib.parse.unquote(raw_password) if colon else None
    user = options.get("user", user) or None
    env = options.get("password_env")
    if env:
        password = os.environ.get(env)
        if password is None:
            raise UsageError(f"etcd URL {_redact(url)!r}: environment variable {env} is not set")
    if user is not None and password is None:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            raise UsageError(
                f"etcd URL {_redact(url)!r} names user {user!r} but no password: set {PASSWORD_ENV} "
                "or add ?password_env=VAR"
            )
    if user is None and password is not None:
        raise UsageError(f"etcd URL {_redact(url)!r}: a password needs a user")
    return user, password


def _endpoint(url: str, item: str, tls: bool) -> str:
    item = item.strip()
    if "://" in item:  # http://h1:2379,http://h2:2379 as etcdctl --endpoints spells a list
        item = item.split("://", 1)[1]
    host, colon, port = item.rpartition(":")
    if not colon:
        host, port = item, str(DEFAULT_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"etcd URL {_redact(url)!r}: {item!r} is not HOST:PORT; expected {ACCEPTED}")
    return f"{'https' if tls else 'http'}://{host}:{int(port)}"


def default_app() -> str:
    """The app segment used when neither the caller nor the URL names one: the default
    ``app`` of ``tierconf.yaml`` (the bundled project's)."""
    from tierconf.tree import ProjectSpec

    return str(ProjectSpec.model_fields["app"].default)
