"""Auth (user/password, the gateway's token) and TLS with client certificates, on real etcd.

The TLS member is started here with certificates made for the test (``cryptography``):
the shared harness only starts plain-HTTP members.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tierconf.errors import StoreError
from tierconf.etcd import EtcdClient, EtcdConfig
from tierconf.etcd._publish import open_etcd_target
from tierconf.runtime import LiveConfig
from tierconf.store import open_store
from tierconf.targets import DesiredState

from .conftest import etcd_url, release_n, runtime_options, wait_for

sys.path.insert(0, str(Path(__file__).parents[1]))
from servers import HOST, EtcdServer, _Process, etcd_binary

PASSWORD = "etcd-root-test-password"


def secret_values(desired: DesiredState) -> dict[str, str]:
    """KEY -> plaintext of every Secret the desired state renders."""
    return {
        key: base64.b64decode(value).decode()
        for m in desired.manifests
        if m["kind"] == "Secret"
        for key, value in m["data"].items()
    }


class TestAuth:
    @pytest.fixture
    def auth_url(self, etcd_cluster_factory, prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
        """A single member with auth on (root user); the URL names the user, the password
        comes from an environment variable."""
        cluster = etcd_cluster_factory(size=1)
        admin = EtcdClient(EtcdConfig.from_url(etcd_url(cluster.endpoints, prefix)))
        admin.call("/auth/role/add", {"name": "root"})
        admin.call("/auth/user/add", {"name": "root", "password": PASSWORD})
        admin.call("/auth/user/grant", {"user": "root", "role": "root"})
        admin.call("/auth/enable", {})
        admin.close()
        monkeypatch.setenv("TEST_ETCD_PASSWORD", PASSWORD)
        return etcd_url(cluster.endpoints, prefix, user="root", password_env="TEST_ETCD_PASSWORD")

    def test_store_and_secrets_with_auth(self, auth_url: str, dev_desired: DesiredState) -> None:
        """With auth on, the store works, secrets may be published, and LiveConfig reads them."""
        store = open_store(auth_url)
        assert store.head("development", None) is None
        store.close()
        target = open_etcd_target(auth_url, dev_desired.scope, publish_secrets=True)
        plan = target.plan(release_n(dev_desired, 1))
        assert not plan.blockers
        target.apply(plan)
        target.close()
        with LiveConfig.from_etcd(auth_url, environment="development", options=runtime_options()) as live:
            for key, value in secret_values(dev_desired).items():
                assert live.secret(key) == value

    def test_without_credentials_is_refused(self, auth_url: str) -> None:
        """A client without the user gets a StoreError, not data."""
        anonymous = auth_url.split("&user=", maxsplit=1)[0]
        store = open_store(anonymous)
        with pytest.raises(StoreError, match="user name is empty"):
            store.head("development", None)
        store.close()

    def test_wrong_password(self, auth_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """A wrong password is reported as such."""
        monkeypatch.setenv("TEST_ETCD_PASSWORD", "not-it")
        store = open_store(auth_url)
        with pytest.raises(StoreError, match="wrong user name or password"):
            store.head("development", None)
        store.close()


# -- TLS ---------------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[str, str]:
    cert_path, key_path = path.with_suffix(".pem"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def make_certs(directory: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tierconf test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": _write(directory / "ca", ca_key, ca)[0]}
    # etcd's built-in JSON gateway dials its own gRPC port with the server certificate as
    # a client certificate, so the server's needs both usages under --client-cert-auth.
    usages = {
        "server": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
    }
    for name, usage in usages.items():
        key = _key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tierconf-{name}")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        paths[f"{name}_cert"], paths[f"{name}_key"] = _write(directory / name, key, cert)
    return paths


class TlsEtcdServer(EtcdServer):
    """One member serving clients over HTTPS and requiring a client certificate."""

    certs: ClassVar[dict[str, str]] = {}

    @property
    def endpoint(self) -> str:
        return f"https://{self.host}:{self.client_port}"

    def _spawn(self, binary: str | None = None) -> None:
        argv = [
            binary or etcd_binary(),
            "--name", self.name,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.endpoint,
            "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.initial_cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", self.token,
            "--cert-file", self.certs["server_cert"],
            "--key-file", self.certs["server_key"],
            "--trusted-ca-file", self.certs["ca"],
            "--client-cert-auth",
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]  # fmt: skip
        self._started_at = time.monotonic()
        self._proc = _Process(argv, self.log_path, cwd=self.tmp_dir)

    def healthy(self) -> bool:
        context = ssl.create_default_context(cafile=self.certs["ca"])
        context.load_cert_chain(self.certs["client_cert"], self.certs["client_key"])
        try:
            with urllib.request.urlopen(self.endpoint + "/health", timeout=1, context=context) as resp:
                answer: dict[str, Any] = json.loads(resp.read())
                return answer.get("health") == "true"
        except (OSError, ValueError):
            return False


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsEtcdServer]:
    """A TLS member for this module."""
    directory = tmp_path_factory.mktemp("etcd-tls")
    TlsEtcdServer.certs = make_certs(directory)
    server = TlsEtcdServer.start(directory / "data")
    yield server
    server.stop()


class TestTls:
    def url(self, server: TlsEtcdServer, prefix: str, *, client_cert: bool = True) -> str:
        certs = server.certs
        options = {"ca": certs["ca"]}
        if client_cert:
            options.update(cert=certs["client_cert"], key=certs["client_key"])
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"etcds://{server.host}:{server.client_port}?prefix={prefix}&{query}"

    def test_everything_over_tls_with_a_client_certificate(
        self, tls_server: TlsEtcdServer, prefix: str, dev_desired: DesiredState
    ) -> None:
        """Store, publish (secrets allowed over TLS) and LiveConfig all work over etcds://."""
        url = self.url(tls_server, prefix)
        store = open_store(url)
        assert store.history("development", None) == []
        store.close()
        target = open_etcd_target(url, dev_desired.scope, publish_secrets=True)
        target.apply(target.plan(release_n(dev_desired, 1)))
        with LiveConfig.from_etcd(url, environment="development", options=runtime_options()) as live:
            assert live.revision == "1"
            assert live.secret("DB_PASSWORD") == secret_values(dev_desired)["DB_PASSWORD"]
            target.apply(target.plan(release_n(dev_desired, 2)))
            wait_for(lambda: live.revision == "2", what="release 2 over the TLS watch")
        target.close()

    def test_missing_client_certificate_is_refused(self, tls_server: TlsEtcdServer, prefix: str) -> None:
        """Without the client certificate the member refuses the connection."""
        target_url = self.url(tls_server, prefix, client_cert=False) + "&timeout=0.3"
        store = open_store(target_url)
        with pytest.raises(StoreError, match="etcd revision store"):
            store.head("development", None)
        store.close()
