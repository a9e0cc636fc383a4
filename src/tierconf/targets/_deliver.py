"""Delivery as library calls: ``deploy`` and ``drift`` over any :class:`DeployTarget`.

The stages, in order::

    deploy(tree, request, options)
        open target -> validate (errors block) -> resolve secrets -> render -> plan
        -> (dry run: server-side check, stop) -> ensure_released (a revision holds the
        content) -> apply -> audit "deploy" entry naming the target and revision
    drift(tree, request, options)
        open target -> desired = the revision last deployed to that target (audit trail),
        or a fresh render -> plan (prune rules on, to see strays) -> read as drift

Nothing here prints; the CLI passes ``on_plan`` to show the plan before it is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tierconf.errors import ConfigError, DeployError, InvalidConfigurationError, Location
from tierconf.findings import Finding
from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.release import ReleaseOptions, detect_author, ensure_released, record_deploy
from tierconf.render import RenderedSet, RenderOptions, render
from tierconf.render._manifests import SecretsMode
from tierconf.secrets import SecretOptions, placeholder_secrets, resolve_secrets
from tierconf.store import AuditEntry, Revision, RevisionStore
from tierconf.tree import ConfigTree, LayerReader
from tierconf.validation import validate

from ._plan import DriftReport, drift_report
from ._protocol import ApplyResult, DeployTarget, DesiredState, Plan, Scope, TargetOptions
from ._state import desired_from_rendered, desired_from_revision
from ._url import open_target

IMMUTABLE_NOTE = "immutable ConfigMaps"


@dataclass(frozen=True)
class DeployOptions:
    """One deploy: where to, how secrets are handled, and the target's options."""

    target: str
    namespace: str | None = None
    secrets_mode: SecretsMode = "inline"
    secrets_dir: Path | None = None
    immutable: bool = False
    message: str = ""
    target_options: TargetOptions = field(default_factory=TargetOptions)


@dataclass(frozen=True)
class DeployOutcome:
    """The plan shown, what applying it did, and the revision delivered (None: dry run)."""

    plan: Plan
    result: ApplyResult
    revision: Revision | None
    released: bool
    warnings: tuple[Finding, ...]
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class DriftOptions:
    """One drift check: the target, and whether to compare with a fresh render."""

    target: str
    namespace: str | None = None
    render: bool = False
    secrets_mode: SecretsMode = "inline"
    secrets_dir: Path | None = None
    immutable: bool = False
    target_options: TargetOptions = field(default_factory=TargetOptions)


def scope_for(tree: ConfigTree, request: ConfigRequest, namespace: str | None) -> Scope:
    """The scope a request deploys to (``namespace`` overrides the project's pattern)."""
    return Scope(
        app=tree.project.app,
        tier=request.tier.value,
        tenant=request.tenant,
        namespace=namespace or tree.project.namespace_for(request.tier, request.tenant),
    )


def workloads_for(tree: ConfigTree, scope: Scope) -> tuple[str, ...]:
    """The workloads rolled by a deploy of ``scope``.

    Only a tier-wide deploy rolls them: they consume the tier's objects, while tenant
    objects are read at runtime. Rolling them per tenant would also have two deploys
    fight over the one checksum annotation.
    """
    return tuple(tree.project.workloads) if scope.tenant is None else ()


def _render(
    tree: ConfigTree, request: ConfigRequest, mode: SecretsMode, secrets_dir: Path | None, *, check: bool
) -> tuple[RenderedSet, tuple[Finding, ...]]:
    reader = LayerReader(tree)
    findings: tuple[Finding, ...] = ()
    if check:
        report = validate(tree, request, reader=reader)
        errors = [f for f in report.findings if f.severity == "error"]
        if errors:
            raise InvalidConfigurationError(
                tuple(
                    ConfigError(
                        f"[{f.code}] {f.message}",
                        location=Location(f.file, f.line) if f.file else None,
                        path=f.path or None,
                    )
                    for f in errors
                )
            )
        findings = tuple(f for f in report.findings if f.severity == "warning")
    resolved = resolve_config(tree, request, reader)
    if mode == "external":
        secrets = placeholder_secrets()
    else:
        secrets = resolve_secrets(resolved, SecretOptions(secrets_dir=secrets_dir))
    warnings = [*findings, *resolved.warnings]
    warnings.extend(w for w in secrets.warnings if w not in warnings)
    return render(resolved, secrets, RenderOptions(secrets=mode)), tuple(warnings)


def deploy(
    tree: ConfigTree,
    request: ConfigRequest,
    options: DeployOptions,
    *,
    store: RevisionStore | None,
    target: DeployTarget | None = None,
    on_plan: Callable[[Plan], None] | None = None,
) -> DeployOutcome:
    """Plan, show (``on_plan``), release if needed, apply, and audit one deploy.

    ``store`` may be ``None`` only with ``dry_run``. The target is opened first, so a
    missing cluster fails before anything is rendered or recorded.

    Raises:
        DeployError: the target is unusable, refuses the change, or a plan blocker.
        InvalidConfigurationError: the configuration has errors (nothing deployed).
        SecretError: a secret has no value.
    """
    scope = scope_for(tree, request, options.namespace)
    target = target or open_target(options.target, scope, options.target_options)
    dry_run = options.target_options.dry_run
    rendered, warnings = _render(tree, request, options.secrets_mode, options.secrets_dir, check=True)
    workloads = workloads_for(tree, scope)
    desired = desired_from_rendered(rendered, scope, workloads=workloads, immutable=options.immutable)
    plan = target.plan(desired)
    if on_plan is not None:
        on_plan(plan)
    if plan.blockers:
        raise DeployError(plan.blockers[0])
    if dry_run or store is None:
        if not dry_run:
            raise DeployError("deploy needs a revision store (only --dry-run runs without one)")
        return DeployOutcome(plan, target.apply(plan), None, False, warnings)
    release_options = ReleaseOptions(
        store=store,
        message=options.message or f"deploy to {target.name}",
        secrets_mode=options.secrets_mode,
        secrets_dir=options.secrets_dir,
    )
    outcome = ensure_released(tree, request, release_options)
    if outcome.rendered.checksum() != rendered.checksum():
        # The tree changed between planning and releasing: deliver what was released.
        desired = desired_from_rendered(
            outcome.rendered, scope, workloads=workloads, immutable=options.immutable
        )
        plan = target.plan(desired)
        if on_plan is not None:
            on_plan(plan)
    plan = plan.for_revision(outcome.revision.revision, options.message)
    result = target.apply(plan)
    reason = result.summary() + (f"; {IMMUTABLE_NOTE}" if options.immutable else "")
    entry = record_deploy(
        store, outcome.revision, target=target.name, actor=detect_author(tree.root), reason=reason
    )
    return DeployOutcome(plan, result, outcome.revision, outcome.recorded, warnings, entry)


def last_deploy(store: RevisionStore, scope: Scope, target: str) -> AuditEntry | None:
    """The newest audit entry recording a deploy of ``scope`` to ``target``."""
    prefix = f"deployed to {target}"
    for entry in reversed(store.audit_log(scope.tier, scope.tenant)):
        if (
            entry.action == "deploy"
            and entry.tenant == scope.tenant
            and entry.revision is not None
            and (entry.reason == prefix or entry.reason.startswith(prefix + ":"))
        ):
            return entry
    return None


def drift(
    tree: ConfigTree,
    request: ConfigRequest,
    options: DriftOptions,
    *,
    store: RevisionStore | None,
    target: DeployTarget | None = None,
) -> DriftReport:
    """Compare the live target with the last deployed revision (or a fresh render).

    Immutable (hash-suffixed) ConfigMap names are used when asked or when the last deploy
    to this target used them, so a fresh render compares like with like.

    Raises:
        DeployError: the target is unusable, or nothing was deployed to it yet (without
            ``render``).
    """
    scope = scope_for(tree, request, options.namespace)
    target_options = replace(options.target_options, prune=True, dry_run=True)
    target = target or open_target(options.target, scope, target_options)
    workloads = workloads_for(tree, scope)
    entry = last_deploy(store, scope, target.name) if store is not None else None
    immutable = options.immutable or (entry is not None and IMMUTABLE_NOTE in entry.reason)
    desired: DesiredState
    if options.render:
        rendered, _ = _render(tree, request, options.secrets_mode, options.secrets_dir, check=False)
        desired = desired_from_rendered(rendered, scope, workloads=workloads, immutable=immutable)
        source = "a fresh render"
    else:
        if store is None or entry is None or entry.revision is None:
            raise DeployError(
                f"no deploy of {scope.describe()} to {target.name} is recorded in the store; "
                "deploy first, or compare with a fresh render (--render)"
            )
        revision = store.get(scope.tier, scope.tenant, entry.revision)
        desired = desired_from_revision(revision, scope, workloads=workloads, immutable=immutable)
        source = f"revision {revision.revision} (deployed {entry.at})"
    return drift_report(target.plan(desired), source)
