"""The ``generate`` job as a library call: resolve -> secrets -> render -> write.

Nothing is written unless everything rendered, so a bad tenant file leaves the previous
output untouched. With ``all_tenants`` and an output directory, tenants are rendered as
deltas of the tier, on both cores, and streamed into a staging tree that replaces
``OUT/tenants`` at the end (:mod:`tierconf.tenancy`); memory does not grow with the number
of tenants. Each tenant's objects are named ``<name>-<tenant>`` and labelled
``tierconf.io/tenant`` (docs/tenancy.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tierconf.findings import Finding
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.render import (
    OutputFormat,
    RenderedSet,
    RenderOptions,
    format_masked,
    render,
    to_json,
    write_rendered,
)
from tierconf.render._manifests import SecretsMode
from tierconf.secrets import SecretOptions, placeholder_secrets, resolve_secrets
from tierconf.secrets._resolve import DEFAULT_STATE_DIR, SecretValues
from tierconf.tenancy import (
    BatchReader,
    ListedTree,
    Progress,
    TenantFailure,
    TenantRenderer,
    YamlWriter,
    failures_to_error,
    map_tenants,
    resolve_tenant,
    staging_dir,
    swap_in,
    sync_tree,
    tenant_entries,
    unique,
    write_plain,
)
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
    workers: int | None = None
    """Processes for ``all_tenants`` (None: one per CPU, used from a few hundred tenants)."""
    progress: bool | None = None
    """Progress bar for ``all_tenants`` (None: when stderr is a terminal)."""


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
        return placeholder_secrets()
    return resolve_secrets(
        resolved, SecretOptions(secrets_dir=options.secrets_dir, state_dir=options.state_dir)
    )


def generate(tree: ConfigTree, request: ConfigRequest, options: GenerateOptions) -> GenerateResult:
    """Render the request (and every tenant with ``all_tenants``) and write or format it.

    With ``all_tenants`` and an output directory, ``rendered`` holds the tier-wide set only:
    the tenants' sets are written as they are rendered, not kept.
    """
    if options.all_tenants and options.output is not None:
        return _generate_all_tenants(tree, request, options)
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


@dataclass(frozen=True)
class _ChunkResult:
    """What a worker sends back for a chunk of tenants (small: no rendered objects)."""

    kinds: tuple[tuple[str, int], ...]
    files: tuple[str, ...]
    warnings: tuple[Finding, ...]
    failures: tuple[TenantFailure, ...]


def _tenant_writer(
    tree: ConfigTree,
    request: ConfigRequest,
    options: GenerateOptions,
    reader: LayerReader,
    renderer: TenantRenderer,
    staging: Path,
) -> Callable[[Sequence[str]], _ChunkResult]:
    yaml_writer = YamlWriter()
    app = tree.project.app

    def work(chunk: Sequence[str]) -> _ChunkResult:
        kinds: dict[str, int] = {}
        files: list[str] = []
        warnings: list[Finding] = []
        failures: list[TenantFailure] = []
        for tenant in chunk:
            resolved = resolve_tenant(tree, request, tenant, reader)
            if isinstance(resolved, TenantFailure):
                failures.append(resolved)
                continue
            warnings.extend(w for w in resolved.warnings if w not in warnings)
            rendered = renderer.render(resolved, tenant_entries(tree, tenant, reader))
            out_dir = staging / tenant
            out_dir.mkdir()
            if options.fmt in ("yaml", "json"):
                names = _write_manifests(rendered, options.fmt, out_dir, yaml_writer)
            else:
                names = [f.path.name for f in write_rendered(rendered, options.fmt, out_dir, app)]
            if not files:
                files = names
                for obj in rendered.objects:
                    kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
        return _ChunkResult(tuple(kinds.items()), tuple(files), tuple(warnings), tuple(failures))

    return work


def _write_manifests(rendered: RenderedSet, fmt: str, out_dir: Path, yaml_writer: YamlWriter) -> list[str]:
    """``write_rendered`` for yaml/json, minus the per-file fsync (the tree is synced once)."""
    public = [obj.manifest for obj in rendered.objects if not obj.is_secret]
    private = [obj.manifest for obj in rendered.objects if obj.is_secret]
    encode = yaml_writer.dump if fmt == "yaml" else to_json
    names: list[str] = []
    for name, docs, mode in ((f"configmaps.{fmt}", public, 0o644), (f"secrets.{fmt}", private, 0o600)):
        if docs:
            write_plain(out_dir / name, encode(docs).encode(), mode)
            names.append(name)
    return names


def _generate_all_tenants(
    tree: ConfigTree, request: ConfigRequest, options: GenerateOptions
) -> GenerateResult:
    if options.output is None:  # pragma: no cover - the caller routes stdout elsewhere
        raise ValueError("all-tenants streaming needs an output directory")
    tree = ListedTree.of(tree)
    reader = BatchReader(tree)
    render_options = RenderOptions(
        namespace=options.namespace, immutable=options.immutable, secrets=options.secrets_mode
    )
    shared = resolve_config(tree, replace(request, tenant=None), reader)
    secrets = secrets_for(shared, options)
    warnings = unique([*shared.warnings, *secrets.warnings])
    shared_set = render(shared, secrets, render_options)
    tenants = tree.tenants()
    staging = staging_dir(options.output)
    kinds: dict[str, int] = {}
    files: tuple[str, ...] = ()
    failures: list[TenantFailure] = []
    try:
        work = _tenant_writer(
            tree, request, options, reader, TenantRenderer(shared, shared_set, render_options), staging
        )
        with Progress(f"generate {request.tier.value}", len(tenants), options.progress) as bar:
            for result in map_tenants(tenants, work, workers=options.workers, progress=bar.advance):
                failures.extend(result.failures)
                warnings = unique([*warnings, *result.warnings])
                if result.files and not files:
                    files, kinds = result.files, dict(result.kinds)
        if failures:
            raise failures_to_error(failures)
        sync_tree(staging)
        swap_in(staging, options.output / "tenants")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    written = write_rendered(shared_set, options.fmt, options.output, tree.project.app)
    summary = [
        _summary_line(
            request.tier.value,
            shared_set,
            ", ".join(f"{f.path}{' (0600)' if f.secret else ''}" for f in written),
        )
    ]
    if tenants:
        counted = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in kinds.items())
        where = options.output / "tenants" / "<tenant>"
        summary.append(
            f"{request.tier.value}: {len(tenants)} tenant{'s' if len(tenants) > 1 else ''}, "
            f"{counted} each -> {where}/{{{','.join(files)}}}"
        )
    return GenerateResult(((None, shared_set),), tuple(warnings), tuple(summary), "")


def _summary_line(label: str, result: RenderedSet, written: str) -> str:
    kinds: dict[str, int] = {}
    for obj in result.objects:
        kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
    counted = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in kinds.items())
    return f"{label}: {counted} -> {written}"
