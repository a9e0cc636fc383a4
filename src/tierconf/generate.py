"""The ``generate`` job as a library call: resolve -> secrets -> render -> write.

Everything for every requested tenant is rendered in memory before the first byte is
written, so a bad tenant file leaves the previous output untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tierconf.findings import Finding
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.render import OutputFormat, RenderedSet, RenderOptions, format_masked, render, write_rendered
from tierconf.render._manifests import SecretsMode
from tierconf.schema._registry import registry
from tierconf.secrets import SecretOptions, placeholder_secrets, resolve_secrets
from tierconf.secrets._resolve import DEFAULT_STATE_DIR, SecretValues
from tierconf.tree import ConfigTree, LayerReader


@dataclass(frozen=True)
class GenerateOptions:
    """Options of one generate run (one frozen object instead of many arguments)."""

    fmt: OutputFormat = "yaml"
    output: Path | None = Path("out")
    namespace: str | None = None
    immutable: bool = False
    secrets_mode: SecretsMode = "inline"
    secrets_dir: Path | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    all_tenants: bool = False


@dataclass(frozen=True)
class GenerateResult:
    """What was rendered, the warnings, and what to tell the user."""

    rendered: tuple[tuple[str | None, RenderedSet], ...]
    warnings: tuple[Finding, ...]
    summary: tuple[str, ...]
    stdout: str


def secrets_for(resolved: ResolvedConfig, options: GenerateOptions) -> SecretValues:
    """Resolve secret values, or masked stand-ins with ``--secrets external`` / stdout output."""
    if options.secrets_mode == "external" or options.output is None:
        return placeholder_secrets(s.key for s in registry().settings if s.secret)
    return resolve_secrets(
        resolved, SecretOptions(secrets_dir=options.secrets_dir, state_dir=options.state_dir)
    )


def generate(tree: ConfigTree, request: ConfigRequest, options: GenerateOptions) -> GenerateResult:
    """Render the request (and every tenant with ``all_tenants``) and write or format it."""
    reader = LayerReader(tree)
    requests: list[ConfigRequest] = [request]
    if options.all_tenants:
        requests.extend(replace(request, tenant=tenant) for tenant in tree.tenants())
    render_options = RenderOptions(
        namespace=options.namespace, immutable=options.immutable, secrets=options.secrets_mode
    )
    rendered: list[tuple[str | None, RenderedSet]] = []
    warnings: list[Finding] = []
    for req in requests:
        resolved = resolve_config(tree, req, reader)
        secrets = secrets_for(resolved, options)
        warnings.extend(resolved.warnings)
        for warning in secrets.warnings:
            if warning not in warnings:
                warnings.append(warning)
        rendered.append((req.tenant, render(resolved, secrets, render_options)))
    if options.output is None:
        text = "".join(
            format_masked(result, options.fmt if options.fmt != "volume" else "yaml")
            for _, result in rendered
        )
        return GenerateResult(tuple(rendered), tuple(warnings), (), text)
    summary: list[str] = []
    for tenant, result in rendered:
        out_dir = options.output
        if options.all_tenants and tenant is not None:
            out_dir = out_dir / "tenants" / tenant
        files = write_rendered(result, options.fmt, out_dir, tree.project.app)
        kinds: dict[str, int] = {}
        for obj in result.objects:
            kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
        counted = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in kinds.items())
        label = f"{request.tier.value}" + (f"/{tenant}" if tenant else "")
        written = ", ".join(f"{f.path}{' (0600)' if f.secret else ''}" for f in files)
        summary.append(f"{label}: {counted} -> {written}")
    return GenerateResult(tuple(rendered), tuple(warnings), tuple(summary), "")
