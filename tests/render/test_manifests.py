"""Rendering ConfigMaps and Secrets: names, split, schema validity, determinism, golden files."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from support import resolve
from tierconf.render import RenderOptions, content_hash, render, to_yaml
from tierconf.schema import registry
from tierconf.secrets import SecretOptions, placeholder_secrets, resolve_secrets

GOLDEN = Path(__file__).parent / "golden"
SEED_CONFIGMAPS = {
    "spotify-ai-agent-config",
    "spotify-ai-agent-database-config",
    "spotify-ai-agent-security-config",
    "spotify-ai-agent-ml-config",
    "spotify-ai-agent-monitoring-config",
    "spotify-ai-agent-feature-flags",
}
SEED_KEYS = {
    "DEBUG",
    "LOG_LEVEL",
    "ENVIRONMENT",
    "API_VERSION",
    "MAX_WORKERS",
    "WORKER_TIMEOUT",
    "AUTO_SCALING_ENABLED",
    "CPU_THRESHOLD",
    "JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
    "RATE_LIMIT_REQUESTS",
    "CSRF_PROTECTION",
    "MAX_LOGIN_ATTEMPTS",
    "DB_HOST",
    "DB_PORT",
    "DB_POOL_SIZE",
    "REDIS_MAX_CONNECTIONS",
}
SECRET_KEYS = {s.key for s in registry().settings if s.secret}


def rendered(tmp_path: Path, tier: str = "development", tenant: str | None = None, **options: object):  # type: ignore[no-untyped-def]
    resolved = resolve(tier=tier, tenant=tenant)
    secrets = resolve_secrets(resolved, SecretOptions(state_dir=tmp_path / "state", environ={}))
    return render(resolved, secrets, RenderOptions(**options))  # type: ignore[arg-type]


def masked_render(tier: str, tenant: str | None = None):  # type: ignore[no-untyped-def]
    return render(resolve(tier=tier, tenant=tenant), placeholder_secrets(SECRET_KEYS))


class TestObjects:
    """The seed's ConfigMaps, one Secret per domain with secrets, and the split between them."""

    def test_configmap_names(self, tmp_path: Path) -> None:
        """The five seed ConfigMaps plus the feature-flags one."""
        result = rendered(tmp_path)
        names = {o.name for o in result.objects if o.kind == "ConfigMap"}
        assert names == SEED_CONFIGMAPS
        assert {o.kind for o in result.objects} == {"ConfigMap", "Secret"}

    def test_seed_keys_and_environment(self, tmp_path: Path) -> None:
        """Every KEY the seed names is rendered; ENVIRONMENT is the tier."""
        flat = rendered(tmp_path).flat()
        assert set(flat) >= SEED_KEYS
        assert flat["ENVIRONMENT"] == "development"

    def test_no_secret_in_configmaps(self, tmp_path: Path) -> None:
        """No secret KEY and no secret value lands in a ConfigMap."""
        result = rendered(tmp_path)
        secret_values = {v for o in result.objects if o.is_secret for v in o.values().values()}
        for obj in result.objects:
            if obj.kind == "ConfigMap":
                assert not SECRET_KEYS & set(obj.manifest["data"])
                assert not secret_values & set(obj.manifest["data"].values())

    def test_secrets_are_base64_of_the_values(self, tmp_path: Path) -> None:
        """Secret data is the API's canonical base64."""
        secret = next(o for o in rendered(tmp_path).objects if o.name == "spotify-ai-agent-database-secrets")
        encoded = secret.manifest["data"]["DB_PASSWORD"]
        assert base64.b64decode(encoded).decode() == secret.values()["DB_PASSWORD"]

    def test_masked_and_fingerprinted_views(self, tmp_path: Path) -> None:
        """Printing and storing never carry the value."""
        secret = next(o for o in rendered(tmp_path).objects if o.is_secret)
        value = next(iter(secret.values().values()))
        assert value not in str(secret.masked()) and value not in str(secret.fingerprinted())

    def test_labels_and_annotations(self, tmp_path: Path) -> None:
        """Standard labels, a data checksum and the source layers."""
        obj = rendered(tmp_path, tenant="acme").objects[0]
        labels = obj.manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "tierconf"
        assert labels["tierconf.io/tenant"] == "acme"
        annotations = obj.manifest["metadata"]["annotations"]
        assert annotations["tierconf.io/checksum"].startswith("sha256:")
        assert "tenants/acme.yaml" in annotations["tierconf.io/source-layers"]
        assert obj.name.endswith("-acme")

    @pytest.mark.parametrize("tier", ["local", "development", "staging", "production"])
    def test_every_object_passes_kubernetes_schemas(self, tier: str) -> None:
        """kubernetes-validate (official OpenAPI schemas, strict) accepts every object."""
        for obj in masked_render(tier, "globex-music").objects:
            kubernetes_validate.validate(obj.masked(), "1.30", strict=True)

    def test_immutable_objects_pass_kubernetes_schemas(self, tmp_path: Path) -> None:
        """Immutable, hash-suffixed objects are valid too."""
        for obj in rendered(tmp_path, immutable=True).objects:
            kubernetes_validate.validate(dict(obj.manifest), "1.30", strict=True)


class TestDeterminism:
    """The same inputs give byte-identical output."""

    def test_two_renders_are_identical(self, tmp_path: Path) -> None:
        """Rendering twice (with kept development secrets) gives the same YAML."""
        first = to_yaml([o.manifest for o in rendered(tmp_path).objects])
        second = to_yaml([o.manifest for o in rendered(tmp_path).objects])
        assert first == second

    @pytest.mark.parametrize(("tier", "tenant"), [("development", None), ("production", "acme")])
    def test_golden(self, tier: str, tenant: str | None) -> None:
        """Masked output matches the reviewed golden file (TIERCONF_UPDATE_GOLDEN=1 rewrites it)."""
        text = to_yaml(masked_render(tier, tenant).masked_manifests())
        golden = GOLDEN / f"{tier}{'-' + tenant if tenant else ''}.yaml"
        if os.environ.get("TIERCONF_UPDATE_GOLDEN"):
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8")

    def test_yaml_round_trips_strings(self, tmp_path: Path) -> None:
        """'true', '2.10' and '5432' stay strings in rendered YAML (ConfigMap data is text)."""
        docs = list(yaml.safe_load_all(to_yaml([o.manifest for o in rendered(tmp_path).objects])))
        data = {k: v for d in docs for k, v in d["data"].items()}
        assert data["DEBUG"] == "true" and data["ML_MODEL_VERSION"] == "2.10" and data["DB_PORT"] == "5432"


class TestImmutable:
    """Kustomize-compatible hash suffixes."""

    @pytest.mark.parametrize(
        ("kind", "data", "expected"),
        [
            ("ConfigMap", {}, "42745tchd9"),
            ("ConfigMap", {"one": ""}, "9g67k2htb6"),
            ("ConfigMap", {"two": "2", "one": "", "three": "3"}, "f5h7t85m9b"),
            ("Secret", {}, "t75bgf6ctb"),
            ("Secret", {"one": ""}, "74bd68bm66"),
            ("Secret", {"two": "Mg==", "one": "", "three": "Mw=="}, "dgcb6h9tmk"),
        ],
    )
    def test_kustomize_vectors(self, kind: str, data: dict[str, str], expected: str) -> None:
        """The suffixes of kustomize's own hasher tests."""
        manifest = {"kind": kind, "metadata": {"name": ""}, "data": data}
        if kind == "Secret":
            manifest["type"] = "my-type"
        assert content_hash(manifest) == expected

    def test_immutable_names_change_with_content(self, tmp_path: Path) -> None:
        """A different value gives a different suffix; the same value the same one."""
        first = rendered(tmp_path, immutable=True).objects[0]
        again = rendered(tmp_path, immutable=True).objects[0]
        assert first.name == again.name and first.manifest["immutable"] is True
        assert first.name.startswith("spotify-ai-agent-config-") and len(first.name.rsplit("-", 1)[1]) == 10


class TestExternalSecrets:
    """--secrets external renders ExternalSecrets and no value."""

    def test_external_secret_manifests(self) -> None:
        """One ExternalSecret per domain, remote keys per KEY, no data."""
        resolved = resolve(tier="production")
        result = render(resolved, placeholder_secrets(SECRET_KEYS), RenderOptions(secrets="external"))
        externals = [o for o in result.objects if o.kind == "ExternalSecret"]
        assert externals and not any(o.kind == "Secret" for o in result.objects)
        keys = {e["secretKey"] for o in externals for e in o.manifest["spec"]["data"]}
        assert keys == SECRET_KEYS
