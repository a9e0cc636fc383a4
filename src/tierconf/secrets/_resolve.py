"""Resolving every secret setting of a configuration to its value, or failing clearly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tierconf.errors import SecretError
from tierconf.findings import Finding
from tierconf.pipeline import ResolvedConfig
from tierconf.schema._registry import registry
from tierconf.schema._secret_ref import MASK, SecretRef
from tierconf.secrets._sources import (
    DirectorySecretSource,
    EnvSecretSource,
    GeneratedSecretSource,
    ReferenceSecretSource,
    SecretRequest,
    SecretSource,
    default_environ,
)
from tierconf.tiers import EnvironmentTier

DEFAULT_STATE_DIR = Path(".tierconf")
GENERATING_TIERS = (EnvironmentTier.LOCAL, EnvironmentTier.DEVELOPMENT)


@dataclass(frozen=True, slots=True)
class ResolvedSecret:
    """A secret's value and where it came from. ``repr`` never shows the value."""

    key: str
    path: str
    value: str = field(repr=False)
    source: str

    def __repr__(self) -> str:
        return f"ResolvedSecret({self.key}={MASK} from {self.source})"


@dataclass(frozen=True)
class SecretValues:
    """All resolved secrets of one configuration, by KEY, plus warnings about them."""

    by_key: Mapping[str, ResolvedSecret]
    warnings: tuple[Finding, ...] = ()

    def value(self, key: str) -> str:
        """The plaintext value of a KEY (for writers of Secret manifests only)."""
        return self.by_key[key].value

    def redact(self, text: str) -> str:
        """Replace every known secret value in ``text`` by the mask (longest first)."""
        for secret in sorted(self.by_key.values(), key=lambda s: -len(s.value)):
            if len(secret.value) >= 4:
                text = text.replace(secret.value, MASK)
        return text


@dataclass(frozen=True)
class SecretOptions:
    """Where to look for secret values."""

    secrets_dir: Path | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    environ: Mapping[str, str] | None = None
    extra_sources: Sequence[SecretSource] = ()


def _base_dir(resolved: ResolvedConfig, path: str) -> Path:
    layered = resolved.values.get(path)
    if layered is None:
        return Path.cwd()
    origin = layered.origin
    if origin.kind in ("base", "environment", "tenant"):
        return resolved.tree.root / Path(origin.layer).parent
    if origin.file is not None:
        return Path(origin.file).parent
    return Path.cwd()


def build_sources(tier: EnvironmentTier, app: str, options: SecretOptions) -> list[SecretSource]:
    """The source chain for a tier, in resolution order."""
    environ = options.environ if options.environ is not None else default_environ()
    sources: list[SecretSource] = [*options.extra_sources, EnvSecretSource(environ)]
    if options.secrets_dir is not None:
        sources.append(DirectorySecretSource(options.secrets_dir))
    sources.append(ReferenceSecretSource(environ))
    if tier in GENERATING_TIERS:
        state_file = options.state_dir / "secrets" / f"{app}-{tier.value}.json"
        sources.append(GeneratedSecretSource(state_file))
    return sources


def resolve_secrets(resolved: ResolvedConfig, options: SecretOptions | None = None) -> SecretValues:
    """Resolve every secret setting of ``resolved``.

    Raises:
        SecretError: in staging and production, listing every KEY that has no value and
            how to provide it. The message never contains a value.
    """
    options = options or SecretOptions()
    reg = registry()
    sources = build_sources(resolved.tier, resolved.tree.project.app, options)
    found: dict[str, ResolvedSecret] = {}
    generated: list[str] = []
    missing: list[str] = []
    for spec in reg.settings:
        if not spec.secret:
            continue
        layered = resolved.values.get(spec.path)
        ref = layered.value if layered is not None and isinstance(layered.value, SecretRef) else None
        request = SecretRequest(spec, ref, _base_dir(resolved, spec.path))
        for source in sources:
            hit = source.lookup(request)
            if hit is not None:
                value, where = hit
                found[spec.key] = ResolvedSecret(spec.key, spec.path, value, where)
                if isinstance(source, GeneratedSecretSource):
                    generated.append(spec.key)
                break
        else:
            missing.append(spec.key + (f" (reference {ref.describe()} is unset)" if ref else ""))
    for source in sources:
        if isinstance(source, GeneratedSecretSource):
            source.save()
    if missing:
        raise SecretError(
            f"{len(missing)} secret(s) have no value in {resolved.tier.value}: "
            + ", ".join(missing)
            + "; provide each as TIERCONF_SECRET_<KEY>, a file <KEY> in --secrets-dir, or a "
            "${env:NAME} / ${file:PATH} reference (or use --secrets external)"
        )
    warnings: list[Finding] = []
    if generated:
        warnings.append(
            Finding(
                "warning",
                "SECRET-GENERATED",
                "secrets",
                None,
                f"{len(generated)} secret(s) not provided; using generated {resolved.tier.value} "
                f"values kept under {options.state_dir}/secrets: {', '.join(generated)}",
            )
        )
    return SecretValues(found, tuple(warnings))


def placeholder_secrets(keys: Iterable[str] | None = None) -> SecretValues:
    """Masked stand-ins, for rendering without values (``--secrets external``, dry runs).

    ``keys`` defaults to every secret setting of the schema.
    """
    reg = registry()
    if keys is None:
        keys = (spec.key for spec in reg.settings if spec.secret)
    return SecretValues(
        {key: ResolvedSecret(key, reg.by_key[key].path, MASK, "not resolved") for key in keys}
    )
