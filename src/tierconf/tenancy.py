"""``--all-tenants`` at scale: shared work once, each tenant's delta, both cores, streamed.

For N tenants of one tier the work splits into what does not depend on the tenant, done
once, and what does, done per tenant:

* once: parsing ``base/`` and the tier file (a :class:`~tierconf.tree.LayerReader` keeps
  them), resolving the tier-wide configuration, resolving secret values (tenants cannot set
  secrets), rendering the tier-wide objects (:class:`TenantRenderer`);
* per tenant: parsing its file, merging it over the shared layers and type-checking the
  result (cheap: a few hundred microseconds), then re-rendering only the domains its file
  touches (the others keep the shared data, checksum and source-layers) and writing.

Tenants are processed in chunks by a pool of forked workers (:func:`map_tenants`) when
there are enough of them to pay for the fork; workers inherit the shared state, write their
tenants' files themselves and send back only small summaries, so the parent's memory does
not grow with the number of tenants. Output goes to a staging directory that replaces
``OUT/tenants`` only when every tenant rendered (one bad tenant file leaves the previous
output untouched). Files are not fsynced one by one; the staging tree is synced once before
the swap.

A rich progress bar is shown on stderr when it is a terminal.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from tierconf.errors import ConfigError, InvalidConfigurationError, TierconfError
from tierconf.findings import Finding
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.render import RenderedObject, RenderedSet, RenderOptions
from tierconf.render._manifests import (
    CONFIGMAP_SUFFIX,
    SECRET_SUFFIX,
    _checksum,
    _external_secret,
    _finish,
    _metadata,
    _object_name,
    _source_layers,
)
from tierconf.render._values import render_scalar
from tierconf.render._writers import to_yaml
from tierconf.schema._registry import SettingSpec, registry
from tierconf.schema._root import DOMAIN_MODELS
from tierconf.sources._layer import LayerKind, LayerRead, read_layer
from tierconf.tiers import EnvironmentTier
from tierconf.tree import ConfigTree, LayerReader

if TYPE_CHECKING:
    from tierconf.validation import ValidationOptions, ValidationReport

R = TypeVar("R")

#: Below this many tenants the pool's start-up costs more than it saves.
PARALLEL_MIN_TENANTS = 400
#: Tenants per task sent to a worker (progress granularity vs. scheduling overhead).
CHUNK = 100


# -- the tree, listed once ----------------------------------------------------------------------


@dataclass(frozen=True)
class ListedTree(ConfigTree):
    """A config tree whose directory listings are taken once, when the run starts.

    Listing ``tenants/`` costs ~60 ms at 10,000 files; a batch run that asked for it per
    tenant (the FLAG-UNKNOWN-TENANT rule does, through ``resolved.tree``) would spend minutes
    listing. Files added during the run are not seen by it, as with any snapshot.
    """

    listed_tenants: tuple[str, ...] = ()
    listed_base: tuple[Path, ...] = ()
    listed_tiers: tuple[tuple[EnvironmentTier, Path | None], ...] = ()

    @classmethod
    def of(cls, tree: ConfigTree) -> ListedTree:
        """List ``tree`` now (a ListedTree is returned as is)."""
        if isinstance(tree, ListedTree):
            return tree
        return cls(
            root=tree.root,
            display_root=tree.display_root,
            project=tree.project,
            listed_tenants=tree.tenants(),
            listed_base=tree.base_files(),
            listed_tiers=tuple((tier, tree.tier_file(tier)) for tier in EnvironmentTier),
        )

    def tenants(self) -> tuple[str, ...]:
        """Tenant ids with a file under ``tenants/`` when the tree was listed."""
        return self.listed_tenants

    def base_files(self) -> tuple[Path, ...]:
        """``base/*.yaml`` when the tree was listed."""
        return self.listed_base

    def tier_file(self, tier: EnvironmentTier) -> Path | None:
        """``environments/<tier>.yaml`` when the tree was listed."""
        return dict(self.listed_tiers).get(tier)


@dataclass
class BatchReader(LayerReader):
    """A reader for a batch run: shared files cached for the run, tenant files one at a time.

    A plain :class:`LayerReader` keeps every file it read; over 10,000 tenants that is every
    tenant's parsed file, so memory would grow with the number of tenants. This one keeps
    the base and tier files, and only the last tenant file (read twice in a row: to resolve
    the tenant, then to know which paths it touches).
    """

    _last: tuple[Path, LayerRead] | None = None

    def read(self, path: Path, kind: LayerKind) -> LayerRead:
        """Read a layer file; tenant files are not kept beyond the next tenant."""
        if kind != "tenant":
            return super().read(path, kind)
        last = self._last
        if last is not None and last[0] == path:
            return last[1]
        result = read_layer(path, self.tree.display(path), kind, self.tree.relative(path))
        self._last = (path, result)
        return result


# -- running per-tenant work on both cores ----------------------------------------------------


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_WORK: Callable[[Sequence[str]], Any] | None = None


def _run_chunk(chunk: Sequence[str]) -> Any:
    assert _WORK is not None  # set in the parent before the fork
    return _WORK(chunk)


def map_tenants(
    tenants: Sequence[str],
    work: Callable[[Sequence[str]], R],
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[R]:
    """Apply ``work`` to chunks of ``tenants``, in order, on forked workers when it pays.

    ``work`` receives a chunk of tenant ids and returns one (small, picklable) result for
    the chunk. Workers are forked, so they share everything the parent prepared without
    pickling it. ``progress(n)`` is called as each chunk of ``n`` tenants completes.
    """
    global _WORK  # noqa: PLW0603 - the fork hands the work to the children through it
    chunks = [tenants[i : i + CHUNK] for i in range(0, len(tenants), CHUNK)]
    workers = min(workers or default_workers(), len(chunks))
    parallel = (
        workers > 1
        and len(tenants) >= PARALLEL_MIN_TENANTS
        and "fork" in multiprocessing.get_all_start_methods()
    )
    if not parallel:
        for chunk in chunks:
            result = work(chunk)
            if progress is not None:
                progress(len(chunk))
            yield result
        return
    _WORK = work
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for chunk, result in zip(chunks, pool.imap(_run_chunk, chunks), strict=True):
                if progress is not None:
                    progress(len(chunk))
                yield result
    finally:
        _WORK = None


@dataclass
class Progress:
    """A rich progress bar on a terminal (stderr), nothing otherwise."""

    label: str
    total: int
    enabled: bool | None = None
    _bar: Any = field(default=None, init=False)
    _task: Any = field(default=None, init=False)

    def __enter__(self) -> Progress:
        show = self.enabled if self.enabled is not None else sys.stderr.isatty()
        if show and self.total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self, count: int) -> None:
        """Count ``count`` more tenants done."""
        if self._bar is not None:
            self._bar.advance(self._task, count)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


# -- rendering a tenant as a delta of the tier ------------------------------------------------


def _domain_specs() -> Mapping[str, list[tuple[SettingSpec, Callable[[Any], Any]]]]:
    by_domain: dict[str, list[tuple[SettingSpec, Callable[[Any], Any]]]] = {d: [] for d in DOMAIN_MODELS}
    for spec in registry().settings:
        if not spec.secret:
            by_domain[spec.domain].append((spec, attrgetter(spec.path)))
    return by_domain


class TenantRenderer:
    """Renders tenants of one request as deltas of the tier-wide rendering.

    The result equals ``render(resolve_config(tree, request_for_tenant), secrets, options)``
    (checked by the test-suite for every bundled and synthetic tenant); only the work
    differs: a domain whose settings the tenant's file does not touch keeps the tier's data,
    checksum and source layers, and only its name, namespace and labels change.
    """

    def __init__(self, shared: ResolvedConfig, rendered: RenderedSet, options: RenderOptions) -> None:
        self.shared = shared
        self.options = options
        self.specs = _domain_specs()
        self.objects = rendered.objects
        self._secret_specs = {
            domain: [s for s in registry().settings if s.secret and s.domain == domain]
            for domain in DOMAIN_MODELS
        }

    def render(self, resolved: ResolvedConfig, touched: Iterable[str]) -> RenderedSet:
        """Render one tenant's ``resolved`` config; ``touched`` are the paths its file sets."""
        domains = {path.split(".", 1)[0] for path in touched}
        namespace = self.options.namespace or resolved.tree.project.namespace_for(
            resolved.tier, resolved.tenant
        )
        objects = [self._object(obj, resolved, namespace, domains) for obj in self.objects]
        return RenderedSet(tuple(objects), namespace)

    def _object(
        self, shared: RenderedObject, resolved: ResolvedConfig, namespace: str, domains: set[str]
    ) -> RenderedObject:
        manifest = shared.manifest
        domain = shared.domain
        kind = shared.kind
        annotations = manifest["metadata"]["annotations"]
        checksum = annotations["tierconf.io/checksum"]
        layers = annotations.get("tierconf.io/source-layers", "")
        labels = manifest["metadata"]["labels"]
        component = labels["app.kubernetes.io/component"]
        if kind == "ConfigMap":
            data = manifest["data"]
            suffix = CONFIGMAP_SUFFIX[domain]
            if domain in domains and domain != "flags":
                specs = self.specs[domain]
                config = resolved.config
                data = dict(sorted((spec.key, render_scalar(get(config))) for spec, get in specs))
                checksum = _checksum(data)
                layers = _source_layers(resolved, (spec.path for spec, _ in specs))
            name = _object_name(resolved, suffix)
            new = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _metadata(resolved, name, namespace, component, checksum, layers),
                "data": data,
            }
            return RenderedObject(_finish(new, self.options), domain, shared.secret_keys)
        name = _object_name(resolved, SECRET_SUFFIX[domain])
        if kind == "ExternalSecret":
            secret_specs = self._secret_specs[domain]
            external = _external_secret(resolved, name, namespace, secret_specs, layers, self.options)
            return RenderedObject(external, domain, shared.secret_keys)
        new = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _metadata(resolved, name, namespace, component, checksum, layers),
            "type": manifest["type"],
            "data": manifest["data"],
        }
        return RenderedObject(_finish(new, self.options), domain, shared.secret_keys)


# -- fast YAML: the emitter's scalars, cached, laid out by hand ---------------------------------


class _UnsupportedError(Exception):
    """A value the hand layout does not cover (multi-line text, an unusual key)."""


class YamlWriter:
    """``to_yaml`` for manifests, byte for byte, at a fraction of the cost.

    PyYAML spends most of its time representing nodes, not emitting text. Manifests are
    mappings and lists of scalars in block style, so the layout is simple to write by hand;
    what is hard, how each scalar is spelled (plain, quoted, escaped), is still decided by
    the real emitter, once per distinct scalar, and cached. Each kind of document is checked
    against :func:`tierconf.render.to_yaml` the first time it is seen; a mismatch, or a
    value the layout does not cover (text with line breaks), falls back to ``to_yaml``.
    The cache is bounded.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self.scalars: dict[tuple[type, Any], str] = {}
        self.checked: dict[tuple[Any, ...], bool] = {}
        self.blocks: dict[int, tuple[Mapping[str, Any], str, str]] = {}
        self.entries: dict[tuple[str, str, str], str] = {}

    def dump(self, manifests: Sequence[Mapping[str, Any]]) -> str:
        """Multi-document YAML of ``manifests``, exactly as :func:`tierconf.render.to_yaml`."""
        return "".join(self._document(m) for m in manifests)

    def _document(self, manifest: Mapping[str, Any]) -> str:
        shape = _shape(manifest)
        verdict = self.checked.get(shape)
        if verdict is False:
            return to_yaml([manifest])
        try:
            lines: list[str] = ["---\n"]
            self._mapping(manifest, "", lines)
            text = "".join(lines)
        except _UnsupportedError:
            return to_yaml([manifest])
        if verdict is None:
            verdict = text == to_yaml([manifest])
            self.checked[shape] = verdict
            if not verdict:
                return to_yaml([manifest])
        return text

    def _scalar(self, value: Any) -> str:
        cache_key = (type(value), value)
        text = self.scalars.get(cache_key)
        if text is None and type(value) is str and _plain(value):
            text = value  # what the emitter writes for it, without asking it (checked in tests)
        if text is None:
            emitted = to_yaml([{"k": value}])
            if not emitted.startswith("---\nk: ") or emitted.count("\n") != 2:
                raise _UnsupportedError(value)
            text = emitted[7:-1]
            if len(self.scalars) >= self.limit:
                self.scalars.clear()
            self.scalars[cache_key] = text
        return text

    def _mapping(self, mapping: Mapping[str, Any], indent: str, lines: list[str]) -> None:
        # A tenant's untouched domains share the tier's data mapping object: lay it out once.
        block = self.blocks.get(id(mapping))
        if block is not None and block[0] is mapping and block[1] == indent:
            lines.append(block[2])
            return
        start = len(lines)
        self._entries(mapping, indent, lines)
        if len(mapping) > 16:
            if len(self.blocks) >= 1024:
                self.blocks.clear()
            self.blocks[id(mapping)] = (mapping, indent, "".join(lines[start:]))

    def _entries(self, mapping: Mapping[str, Any], indent: str, lines: list[str]) -> None:
        scalars = self.scalars
        entries = self.entries
        for key, value in mapping.items():
            kind = type(value)
            if kind is str:
                line = entries.get((indent, key, value))
                if line is None:
                    name = scalars.get((str, key)) or self._scalar(key)
                    text = scalars.get((str, value)) or self._scalar(value)
                    line = f"{indent}{name}: {text}\n"
                    if len(entries) >= self.limit:
                        entries.clear()
                    entries[(indent, key, value)] = line
                lines.append(line)
                continue
            name = scalars.get((str, key)) or self._scalar(key)
            if kind is dict:
                if not value:
                    lines.append(f"{indent}{name}: {{}}\n")
                    continue
                lines.append(f"{indent}{name}:\n")
                self._mapping(value, indent + "  ", lines)
            elif kind is list or kind is tuple:
                if not value:
                    lines.append(f"{indent}{name}: []\n")
                    continue
                lines.append(f"{indent}{name}:\n")
                self._sequence(value, indent, lines)
            elif kind in (bool, int, float) or value is None:
                lines.append(f"{indent}{name}: {self._scalar(value)}\n")
            else:
                raise _UnsupportedError(value)

    def _sequence(self, items: Sequence[Any], indent: str, lines: list[str]) -> None:
        # PyYAML writes a sequence inside a mapping "indentless": dashes at the key's indent.
        for item in items:
            if type(item) is dict and item:
                nested: list[str] = []
                self._mapping(item, indent + "  ", nested)
                lines.append(f"{indent}- {nested[0][len(indent) + 2 :]}")
                lines.extend(nested[1:])
            elif type(item) in (str, bool, int, float):
                lines.append(f"{indent}- {self._scalar(item)}\n")
            else:
                raise _UnsupportedError(item)


#: Characters of a string PyYAML always writes as a plain scalar in block context (if it
#: also resolves as a string): no indicators, no spaces, ``:`` only inside a word.
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_./,-]|:(?=[A-Za-z0-9_]))*$")
_RESOLVE: Callable[[type, str, tuple[bool, bool]], str] = yaml.resolver.Resolver().resolve
_STR_TAG = "tag:yaml.org,2002:str"


def _plain(value: str) -> bool:
    """Whether the emitter writes ``value`` as is (plain): safe characters, and a reader
    would not take it for a number, boolean, null or date (``1e3``, ``no``, ``1:20``)."""
    return bool(_PLAIN_SAFE.match(value)) and _RESOLVE(yaml.ScalarNode, value, (True, False)) == _STR_TAG


def _shape(manifest: Mapping[str, Any]) -> tuple[Any, ...]:
    """Which kind of document a manifest is, for the one-time check against ``to_yaml``."""
    return (manifest.get("apiVersion"), manifest.get("kind"), tuple(manifest))


# -- writing a tenant's files into a staging tree ----------------------------------------------


def write_plain(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with exactly ``mode`` (set before the first byte) and write ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it
        os.write(fd, data)
    finally:
        os.close(fd)


def staging_dir(output: Path) -> Path:
    """A new, empty directory next to ``OUT/tenants`` to render into."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / f".tenants-{uuid.uuid4().hex[:12]}.tmp"
    path.mkdir()
    return path


def sync_tree(root: Path) -> None:
    """Flush a freshly written tree to disk once (instead of an fsync per file)."""
    if hasattr(os, "sync"):
        os.sync()
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` (a directory, maybe absent) with ``staging``, then delete the old one."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{uuid.uuid4().hex[:12]}.tmp")
        target.rename(old)
    staging.rename(target)
    if old is not None:
        remove_tree(old)


def _remove_all(paths: Sequence[str]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def remove_tree(root: Path, *, workers: int | None = None) -> None:
    """``rm -r root``, spread over the workers when it holds many tenant directories."""
    entries = [str(p) for p in root.iterdir()] if root.is_dir() else []
    for _ in map_tenants(entries, _remove_all, workers=workers):
        pass
    shutil.rmtree(root, ignore_errors=True)


# -- validation of every tenant ----------------------------------------------------------------


@dataclass(frozen=True)
class TenantFailure:
    """A tenant whose configuration did not resolve, and why."""

    tenant: str
    problems: tuple[ConfigError, ...]


def resolve_tenant(
    tree: ConfigTree, request: ConfigRequest, tenant: str, reader: LayerReader
) -> ResolvedConfig | TenantFailure:
    """Resolve one tenant of ``request``; problems are returned, not raised."""
    try:
        return resolve_config(tree, replace(request, tenant=tenant), reader)
    except InvalidConfigurationError as exc:
        return TenantFailure(tenant, exc.problems)
    except ConfigError as exc:
        return TenantFailure(tenant, (exc,))


def tenant_entries(tree: ConfigTree, tenant: str, reader: LayerReader) -> Mapping[str, Any]:
    """The paths a tenant's file sets (the part of its configuration that can differ)."""
    return reader.read(tree.tenant_file(tenant), "tenant").layer.entries


def validate_tenants(
    tree: ConfigTree,
    request: ConfigRequest,
    *,
    options: ValidationOptions | None = None,
    reader: LayerReader | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> list[ValidationReport]:
    """Validate every tenant of ``request``'s tier, on both cores for many tenants.

    Returns one :class:`~tierconf.validation.ValidationReport` per tenant, in tenant order
    (the tier-wide report is the caller's, as for one tenant). ``options`` are
    :class:`~tierconf.validation.ValidationOptions`; the shared layers are parsed once,
    before the workers fork, so every worker starts with them.
    """
    from tierconf.validation import validate

    tree = ListedTree.of(tree)
    reader = reader or BatchReader(tree)
    # Parse the shared files before the fork; every tier, as cross-tier rules resolve others.
    for path in tree.base_files():
        reader.read(path, "base")
    for tier in EnvironmentTier:
        tier_file = tree.tier_file(tier)
        if tier_file is not None:
            reader.read(tier_file, "environment")
    tenants = tree.tenants()

    def work(chunk: Sequence[str]) -> list[ValidationReport]:
        return [validate(tree, replace(request, tenant=t), reader=reader, options=options) for t in chunk]

    reports: list[ValidationReport] = []
    with Progress(f"validate {request.tier.value}", len(tenants), progress) as bar:
        for chunk_reports in map_tenants(tenants, work, workers=workers, progress=bar.advance):
            reports.extend(chunk_reports)
    return reports


def failures_to_error(failures: Sequence[TenantFailure]) -> TierconfError:
    """One error listing every tenant's problems (each keeps its file:line)."""
    return InvalidConfigurationError(tuple(p for failure in failures for p in failure.problems))


def unique(findings: Iterable[Finding]) -> list[Finding]:
    """Findings without repeats, first occurrence kept."""
    return list(dict.fromkeys(findings))


__all__ = [
    "CHUNK",
    "PARALLEL_MIN_TENANTS",
    "BatchReader",
    "ListedTree",
    "Progress",
    "TenantFailure",
    "TenantRenderer",
    "YamlWriter",
    "default_workers",
    "failures_to_error",
    "map_tenants",
    "resolve_tenant",
    "staging_dir",
    "swap_in",
    "sync_tree",
    "tenant_entries",
    "unique",
    "validate_tenants",
    "write_plain",
]
