"""Releases as library calls: record, compare and roll back revisions of a tier.

The stages, in order::

    release(tree, request, options)
        resolve -> validate (errors block unless forced) -> resolve secrets -> render
        -> build_release (secrets fingerprinted) -> append_with_retry (compare-and-swap)
        -> prune (``max_history``)
    ensure_released(...)   the same, but an unchanged head is reused even when forced
    rollback(tree, store, tier, tenant, n)
        revision n's content as a new revision, its secrets re-resolved from their
        sources now (the fingerprint changes are reported)
    diff_revisions(a, b)   per object and per KEY, secrets as fingerprints only

Nothing here prints or parses command lines; the CLI (``tierconf.cli._versioning``) and
the delivery commands call these functions. A stored revision never holds a secret value:
Secret manifests and secret settings carry :func:`~tierconf.store.fingerprint` digests.
"""

from __future__ import annotations

import copy
import getpass
import hashlib
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tierconf import __version__
from tierconf.errors import (
    ConfigError,
    InvalidConfigurationError,
    Location,
    SecretError,
    TierconfError,
    UsageError,
)
from tierconf.findings import Finding
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.provenance import LayeredValue
from tierconf.render import RenderedSet, RenderOptions, render
from tierconf.render._manifests import ANNOTATION_CHECKSUM, SecretsMode
from tierconf.render._values import canonical_json, get_path, render_flag, render_scalar
from tierconf.rules import redact
from tierconf.schema._flags import flag_key
from tierconf.schema._registry import registry
from tierconf.schema._secret_ref import MASK, SecretRef
from tierconf.secrets import SecretOptions, SecretRequest, placeholder_secrets, resolve_secrets
from tierconf.secrets._resolve import DEFAULT_STATE_DIR, build_sources
from tierconf.secrets._sources import GeneratedSecretSource
from tierconf.store import (
    AuditEntry,
    AuditRequest,
    ReleaseContent,
    Revision,
    RevisionStore,
    append_with_retry,
    fingerprint,
)
from tierconf.tiers import EnvironmentTier
from tierconf.tree import ConfigTree, LayerReader
from tierconf.validation import ValidationReport, validate

Change = Literal["added", "removed", "changed"]
_TREE_LAYERS = frozenset({"base", "environment", "tenant"})


@dataclass(frozen=True)
class ReleaseOptions:
    """How to record one release. ``max_history`` 0 keeps every revision."""

    store: RevisionStore
    message: str = ""
    force_reason: str | None = None
    max_history: int = 0
    secrets_mode: SecretsMode = "inline"
    secrets_dir: Path | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    namespace: str | None = None
    """Render into this namespace instead of the project's pattern (``deploy --namespace``)."""
    author: str | None = None
    """``None``: the config tree's ``git config user.name``, else the login name."""


@dataclass(frozen=True)
class ReleaseOutcome:
    """What a release did. ``recorded`` is False when the head already held this content.

    ``rendered`` holds the secret values in memory (for a deploy that follows); it is kept
    out of ``repr`` and must never be printed.
    """

    revision: Revision
    recorded: bool
    report: ValidationReport
    warnings: tuple[Finding, ...]
    pruned: int
    rendered: RenderedSet = field(repr=False)

    @property
    def forced(self) -> bool:
        """Whether the recorded revision went through ``--force``."""
        return self.recorded and self.revision.content.forced_reason is not None


@dataclass(frozen=True, slots=True)
class SecretChange:
    """A secret whose value differs now from the one a revision was released with."""

    key: str
    before: str
    after: str


@dataclass(frozen=True)
class RollbackOutcome:
    """The new revision, the revision it copies, and the secrets that changed since."""

    revision: Revision
    target: Revision
    secret_changes: tuple[SecretChange, ...]


@dataclass(frozen=True, slots=True)
class RevisionChange:
    """One KEY of one object that differs between two revisions.

    ``left`` and ``right`` are the stored values; for a secret they are fingerprints.
    """

    object: str
    key: str
    change: Change
    left: str | None
    right: str | None
    secret: bool

    def to_json(self) -> dict[str, Any]:
        """JSON form (``tierconf diff REV1 REV2 --format json``)."""
        return {
            "object": self.object,
            "key": self.key,
            "change": self.change,
            "left": self.left,
            "right": self.right,
            "secret": self.secret,
        }


class _UnchangedError(Exception):
    """Raised from inside the compare-and-swap loop: the head already has this content."""

    def __init__(self, head: Revision) -> None:
        super().__init__(f"revision {head.revision} has the same content")
        self.head = head


def build_release(
    resolved: ResolvedConfig,
    rendered: RenderedSet,
    report: ValidationReport,
    *,
    author: str,
    message: str,
    git_commit: str | None,
    forced_reason: str | None,
    extra_findings: Sequence[Finding] = (),
) -> ReleaseContent:
    """The content of a revision: fingerprinted manifests, values with provenance, findings.

    Pure. Secret settings are stored as the reference written in the layer
    (``${env:NAME}``) or as the fingerprint of the resolved value, never as plaintext.
    ``extra_findings`` (secret-resolution warnings) are counted with the report's.
    """
    findings = dict.fromkeys(("error", "warning", "info"), 0)
    for finding in (*report.findings, *extra_findings):
        findings[finding.severity] += 1
    return ReleaseContent(
        tier=resolved.tier.value,
        tenant=resolved.tenant,
        checksum=rendered.checksum(),
        manifests=tuple(rendered.fingerprinted_manifests()),
        values=release_values(resolved, rendered),
        findings=findings,
        author=author,
        message=message,
        git_commit=git_commit,
        tierconf_version=__version__,
        forced_reason=forced_reason,
    )


def release_values(resolved: ResolvedConfig, rendered: RenderedSet) -> dict[str, dict[str, Any]]:
    """Setting path -> ``{key, value, file, line, layer, kind}`` for every setting and flag.

    Values are rendered as in the ConfigMaps. Secret settings add ``secret: true`` and
    ``fingerprint`` (``None`` with ``--secrets external``).
    """
    fingerprints = {
        key: fingerprint(value)
        for obj in rendered.objects
        if obj.is_secret
        for key, value in obj.values().items()
    }
    out: dict[str, dict[str, Any]] = {}
    for spec in registry().settings:
        layered = resolved.values.get(spec.path)
        entry = _provenance(spec.key, layered)
        if spec.secret:
            ref = layered.value if layered is not None else None
            stored = fingerprints.get(spec.key)
            is_reference = isinstance(ref, SecretRef) and ref.is_reference
            entry["value"] = ref.describe() if isinstance(ref, SecretRef) and is_reference else stored
            entry["secret"] = True
            entry["fingerprint"] = stored
        else:
            text = render_scalar(get_path(resolved.config, spec.path))
            if redact(text) != text:
                # A credential pasted into a non-secret setting: store only its fingerprint.
                entry["value"] = fingerprint(text)
                entry["detected_secret"] = True
            else:
                entry["value"] = text
        out[spec.path] = entry
    for name, flag in sorted(resolved.config.flags.items()):
        path = f"flags.{name}"
        out[path] = {**_provenance(flag_key(name), resolved.values.get(path)), "value": render_flag(flag)}
    return out


def _provenance(key: str, layered: LayeredValue | None) -> dict[str, Any]:
    if layered is None:
        return {"key": key, "file": None, "line": None, "layer": "default", "kind": "default"}
    origin = layered.origin
    return {
        "key": key,
        "file": origin.file,
        "line": origin.line,
        "layer": origin.layer,
        "kind": origin.kind,
    }


def manifests_checksum(manifests: Sequence[Mapping[str, Any]]) -> str:
    """The checksum of fingerprinted manifests, as :meth:`RenderedSet.checksum` computes it."""
    return "sha256:" + hashlib.sha256(canonical_json(list(manifests)).encode("utf-8")).hexdigest()


def release(tree: ConfigTree, request: ConfigRequest, options: ReleaseOptions) -> ReleaseOutcome:
    """Render and record ``request`` as the next revision of its (tier, tenant).

    Validation errors block the release unless ``options.force_reason`` is given; a
    forced release is audited with action ``force`` and that reason. Content identical to
    the head's is not recorded again (``recorded`` False) unless forced. Concurrent
    releases of one tier are serialised by compare-and-swap on the head, retried.

    Raises:
        InvalidConfigurationError: the configuration does not load, or it has error
            findings and no ``force_reason`` (one problem per finding, then the hint).
        SecretError: a secret has no value (staging and production).
        UsageError: ``force_reason`` is empty or ``max_history`` is negative.
        StoreError: the store refused or every compare-and-swap attempt lost.
    """
    return _release(tree, request, options, record_unchanged=options.force_reason is not None)


def ensure_released(
    tree: ConfigTree, request: ConfigRequest, options: ReleaseOptions
) -> ReleaseOutcome:
    """The revision holding ``request``'s rendered content, releasing it first if needed.

    For delivery: when the head already has the checksum of what is about to be deployed
    it is reused (even with ``force_reason``, which then only lets error findings
    through); otherwise a revision is recorded as :func:`release` does. Deploy the
    outcome's ``rendered`` objects, then call :func:`record_deploy` with its revision.

    Raises:
        The errors of :func:`release`.
    """
    return _release(tree, request, options, record_unchanged=False)


def record_deploy(
    store: RevisionStore, revision: Revision, *, target: str, actor: str, reason: str = ""
) -> AuditEntry:
    """Audit that ``revision`` was delivered to ``target`` (a ``deploy`` entry)."""
    why = f"deployed to {target}" + (f": {reason}" if reason else "")
    return store.record_audit(
        AuditRequest(actor, "deploy", why),
        tier=revision.content.tier,
        tenant=revision.content.tenant,
        revision=revision.revision,
        checksum=revision.content.checksum,
    )


def _release(
    tree: ConfigTree, request: ConfigRequest, options: ReleaseOptions, *, record_unchanged: bool
) -> ReleaseOutcome:
    if options.force_reason is not None and not options.force_reason.strip():
        raise UsageError("--force needs a reason, e.g. --force 'hotfix approved by on-call'")
    if options.max_history < 0:
        raise UsageError(f"--max-history must be 0 (keep all) or more, got {options.max_history}")
    reader = LayerReader(tree)
    report = validate(tree, request, reader=reader)
    resolved = resolve_config(tree, request, reader)
    errors = [f for f in report.findings if f.severity == "error"]
    if errors and options.force_reason is None:
        raise _refused(errors, resolved)
    if options.secrets_mode == "external":
        secrets = placeholder_secrets()
    else:
        secrets = resolve_secrets(
            resolved, SecretOptions(secrets_dir=options.secrets_dir, state_dir=options.state_dir)
        )
    rendered = render(
        resolved, secrets, RenderOptions(namespace=options.namespace, secrets=options.secrets_mode)
    )
    author = options.author or detect_author(tree.root)
    content = build_release(
        resolved,
        rendered,
        report,
        author=author,
        message=options.message,
        git_commit=detect_git_commit(tree.root),
        forced_reason=options.force_reason,
        extra_findings=secrets.warnings,
    )
    if options.force_reason is not None:
        audit = AuditRequest(author, "force", options.force_reason)
    else:
        audit = AuditRequest(author, "release", options.message or f"release of {_scope(resolved)}")

    def build(head: Revision | None) -> ReleaseContent:
        if head is not None and head.content.checksum == content.checksum and not record_unchanged:
            raise _UnchangedError(head)
        return content

    try:
        revision = append_with_retry(
            options.store, content.tier, content.tenant, build, audit=audit
        )
        recorded = True
    except _UnchangedError as unchanged:
        revision, recorded = unchanged.head, False
    pruned = 0
    if options.max_history:
        pruned = options.store.prune(
            content.tier, content.tenant, options.max_history, actor=author
        )
    warnings = (*(f for f in report.findings if f.severity != "error"), *secrets.warnings)
    return ReleaseOutcome(revision, recorded, report, tuple(warnings), pruned, rendered)


def _scope(resolved: ResolvedConfig) -> str:
    return resolved.tier.value + (f" (tenant {resolved.tenant})" if resolved.tenant else "")


def _refused(errors: Sequence[Finding], resolved: ResolvedConfig) -> InvalidConfigurationError:
    problems = [
        ConfigError(
            f"[{f.code}] {f.message}",
            location=Location(f.file, f.line) if f.file is not None else None,
            path=f.path or None,
        )
        for f in errors
    ]
    problems.append(
        ConfigError(
            f"release of {_scope(resolved)} refused: {len(errors)} error finding(s); fix them, "
            "or record the release anyway with --force REASON (the reason is audited)"
        )
    )
    return InvalidConfigurationError(tuple(problems))


def rollback(
    tree: ConfigTree,
    store: RevisionStore,
    tier: str,
    tenant: str | None,
    target_revision: int,
    *,
    message: str = "",
    author: str | None = None,
    secret_options: SecretOptions | None = None,
) -> RollbackOutcome:
    """Record a new revision with ``target_revision``'s content and ``rolled_back_from``.

    The target's secrets are re-resolved now from the sources its release used (the
    ``${env:...}``/``${file:...}`` references it recorded, ``TIERCONF_SECRET_<KEY>``,
    ``--secrets-dir``, kept development values); ``tree`` locates relative file
    references and names the app. When no secret changed, the new revision's checksum
    equals the target's; otherwise its Secret manifests carry the new fingerprints and
    the changes are returned (and named in the audit entry).

    Raises:
        StoreError: the target revision does not exist.
        SecretError: a secret of the target has no value now.
    """
    target = store.get(tier, tenant, target_revision)
    options = secret_options or SecretOptions()
    current = _reresolve(tree, target.content, options)
    manifests: list[dict[str, Any]] = [copy.deepcopy(dict(m)) for m in target.content.manifests]
    changes: list[SecretChange] = []
    for manifest in manifests:
        if manifest.get("kind") != "Secret":
            continue
        data: dict[str, str] = manifest.get("data") or {}
        for key, before in sorted(data.items()):
            after = current[key]
            if after != before:
                changes.append(SecretChange(key, before, after))
                data[key] = after
        # The annotation is the checksum render() gives the data (fingerprints) of a Secret.
        annotations = manifest.get("metadata", {}).get("annotations")
        if isinstance(annotations, dict) and ANNOTATION_CHECKSUM in annotations:
            annotations[ANNOTATION_CHECKSUM] = (
                "sha256:" + hashlib.sha256(canonical_json(dict(data)).encode("utf-8")).hexdigest()
            )
    values = _refingerprinted_values(target.content.values, current)
    who = author or detect_author(tree.root)
    reason = f"rollback to revision {target_revision}" + (f": {message}" if message else "")
    if changes:
        reason += "; secrets changed since: " + ", ".join(c.key for c in changes)
    content = ReleaseContent(
        tier=tier,
        tenant=tenant,
        checksum=manifests_checksum(manifests),
        manifests=tuple(manifests),
        values=values,
        findings=target.content.findings,
        author=who,
        message=message or f"Rollback to {target_revision}",
        git_commit=target.content.git_commit,
        tierconf_version=__version__,
        rolled_back_from=target_revision,
    )
    revision = append_with_retry(
        store, tier, tenant, lambda _head: content, audit=AuditRequest(who, "rollback", reason)
    )
    return RollbackOutcome(revision, target, tuple(changes))


def _refingerprinted_values(
    values: Mapping[str, Mapping[str, Any]], current: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path, stored in values.items():
        entry = dict(stored)
        key = entry.get("key")
        if entry.get("secret") and isinstance(key, str) and key in current:
            if entry.get("value") == entry.get("fingerprint"):
                entry["value"] = current[key]
            entry["fingerprint"] = current[key]
        out[path] = entry
    return out


def _reresolve(tree: ConfigTree, content: ReleaseContent, options: SecretOptions) -> dict[str, str]:
    """KEY -> fingerprint of each secret in ``content``'s Secret manifests, resolved now."""
    keys = sorted(
        key
        for manifest in content.manifests
        if manifest.get("kind") == "Secret"
        for key in (manifest.get("data") or {})
    )
    if not keys:
        return {}
    reg = registry()
    tier = EnvironmentTier.parse(content.tier)
    sources = build_sources(tier, tree.project.app, options)
    recorded = {e["key"]: e for e in content.values.values() if e.get("secret")}
    literals: dict[str, SecretRef] | None = None
    found: dict[str, str] = {}
    missing: list[str] = []
    for key in keys:
        spec = reg.by_key.get(key)
        if spec is None:
            missing.append(f"{key} (no longer a setting of this tierconf)")
            continue
        entry = recorded.get(key, {})
        ref = _recorded_reference(entry)
        if ref is None and entry.get("kind") in _TREE_LAYERS:
            # A plaintext literal (local tier only) is never stored: read it from the tree.
            if literals is None:
                literals = _tree_literals(tree, tier, content.tenant)
            ref = literals.get(spec.path)
        request = SecretRequest(spec, ref, _base_dir(tree, entry))
        for source in sources:
            hit = source.lookup(request)
            if hit is not None:
                found[key] = fingerprint(hit[0])
                break
        else:
            missing.append(key + (f" (reference {ref.describe()} is unset)" if ref else ""))
    for source in sources:
        if isinstance(source, GeneratedSecretSource):
            source.save()
    if missing:
        raise SecretError(
            f"cannot roll back {content.tier}: {len(missing)} secret(s) have no value now: "
            + ", ".join(missing)
            + "; provide each as TIERCONF_SECRET_<KEY>, a file <KEY> in --secrets-dir, or "
            "set the reference the revision recorded"
        )
    return found


def _recorded_reference(entry: Mapping[str, Any]) -> SecretRef | None:
    value = entry.get("value")
    if isinstance(value, str) and value.startswith("${"):
        ref = SecretRef.parse(value)
        return ref if ref.is_reference else None
    return None


def _tree_literals(tree: ConfigTree, tier: EnvironmentTier, tenant: str | None) -> dict[str, SecretRef]:
    try:
        resolved = resolve_config(tree, ConfigRequest(tier, tenant))
    except TierconfError:
        return {}
    return {
        path: layered.value
        for path, layered in resolved.values.items()
        if isinstance(layered.value, SecretRef) and not layered.value.is_reference
    }


def _base_dir(tree: ConfigTree, entry: Mapping[str, Any]) -> Path:
    """The directory a relative ``${file:...}`` reference of ``entry`` is relative to."""
    if entry.get("kind") in _TREE_LAYERS and isinstance(entry.get("layer"), str):
        return tree.root / Path(entry["layer"]).parent
    if isinstance(entry.get("file"), str):
        return Path(entry["file"]).parent
    return Path.cwd()


def diff_revisions(left: Revision, right: Revision) -> list[RevisionChange]:
    """Per object (``Kind/name``) and per KEY: what was added, removed or changed.

    Objects keep the order they were rendered in; KEYs are sorted. Secret values are the
    stored fingerprints, so a rotated secret shows as ``changed`` without its value.
    """
    before, after = _objects(left.content), _objects(right.content)
    refs = [*before, *(ref for ref in after if ref not in before)]
    changes: list[RevisionChange] = []
    for ref in refs:
        secret_a, data_a = before.get(ref, (False, {}))
        secret_b, data_b = after.get(ref, (False, {}))
        secret = secret_a or secret_b
        for key in sorted({*data_a, *data_b}):
            a, b = data_a.get(key), data_b.get(key)
            if a == b:
                continue
            change: Change = "added" if a is None else "removed" if b is None else "changed"
            changes.append(RevisionChange(ref, key, change, a, b, secret))
    return changes


def _objects(content: ReleaseContent) -> dict[str, tuple[bool, dict[str, str]]]:
    out: dict[str, tuple[bool, dict[str, str]]] = {}
    for manifest in content.manifests:
        kind = str(manifest.get("kind"))
        ref = f"{kind}/{manifest.get('metadata', {}).get('name')}"
        if kind == "ExternalSecret":
            entries = manifest.get("spec", {}).get("data") or []
            data = {str(e["secretKey"]): str(e["remoteRef"]["key"]) for e in entries}
        else:
            data = {str(k): str(v) for k, v in (manifest.get("data") or {}).items()}
        out[ref] = (kind == "Secret", data)
    return out


def masked_fingerprint(value: str | None) -> str | None:
    """How a secret's stored fingerprint is shown to people: ``******** (sha256:...)``."""
    return None if value is None else f"{MASK} ({value})"


def detect_author(directory: Path) -> str:
    """``git config user.name`` as seen from ``directory``, else the login name."""
    name = _git(directory, "config", "user.name")
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        return "unknown"


def detect_git_commit(directory: Path) -> str | None:
    """The commit checked out where ``directory`` lives, or ``None`` outside git."""
    return _git(directory, "rev-parse", "HEAD")


def _git(directory: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", "-C", str(directory), *args],  # noqa: S607 - git from PATH, as users run it
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None
