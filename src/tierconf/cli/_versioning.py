"""``release``, ``history``, ``show``, ``rollback`` and ``audit``: the revision store's commands.

Every command takes ``--store URL`` (default ``sqlite:///.tierconf/store.db``, relative
to the working directory). Revisions are integers counted per (tier, tenant).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded, tier_option

if TYPE_CHECKING:
    from rich.console import Console

    from tierconf.store import AuditEntry, Revision, RevisionStore

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULT_STORE_HELP = "Revision store URL (default: sqlite:///.tierconf/store.db in the working directory)."


def store_option(func: F) -> F:
    """--store URL (resolved lazily so that loading this module stays cheap)."""
    return click.option("--store", "store_url", metavar="URL", help=_DEFAULT_STORE_HELP)(func)


def tenant_option(func: F) -> F:
    """--tenant ID for the commands that read the store only."""
    return click.option("--tenant", help="Tenant id (revisions are numbered per tenant).")(func)


def format_option(func: F) -> F:
    """--format text|json."""
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
    )(func)


@contextmanager
def opened_store(url: str | None) -> Iterator[RevisionStore]:
    """The store named by ``--store`` (or the default), closed afterwards."""
    from tierconf.store import DEFAULT_STORE_URL, open_store

    store = open_store(url or DEFAULT_STORE_URL)
    try:
        yield store
    finally:
        store.close()


def scope_of(environment: str, tenant: str | None) -> tuple[str, str | None]:
    """The canonical tier name and the tenant (``None`` for the tier itself)."""
    from tierconf.errors import UsageError
    from tierconf.tiers import EnvironmentTier

    if tenant == "":
        raise UsageError("--tenant needs a tenant id")
    return EnvironmentTier.parse(environment).value, tenant


def describe(tier: str, tenant: str | None) -> str:
    """``production`` or ``production/acme``."""
    return tier + (f"/{tenant}" if tenant else "")


@click.command("release")
@config_options
@tier_option()
@overlay_options
@click.option("-m", "--message", default="", help="Why this release (shown in history).")
@store_option
@click.option(
    "--force", "force_reason", metavar="REASON",
    help="Record even with error findings or unchanged content; the reason is audited.",
)
@click.option(
    "--max-history", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
    help="Keep only the newest N revisions of this tier (0: keep all).",
)
@click.option(
    "--secrets", "secrets_mode", type=click.Choice(["inline", "external"]), default="inline",
    show_default=True, help="external: record ExternalSecret manifests, resolve no value.",
)
@format_option
def release_command(
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    message: str,
    store_url: str | None,
    force_reason: str | None,
    max_history: int,
    secrets_mode: str,
    fmt: str,
) -> None:
    """Render, validate and record a revision of a tier (and tenant).

    Error findings block the release unless --force REASON is given. Releasing the
    head's content again records nothing unless forced.
    """

    def body() -> int:
        from tierconf.cli._common import build_request, echo_findings, open_tree
        from tierconf.release import ReleaseOptions, release

        tree = open_tree(config_dir)
        request = build_request(environment, tenant, values_files, sets)
        with opened_store(store_url) as store:
            options = ReleaseOptions(
                store=store,
                message=message,
                force_reason=force_reason,
                max_history=max_history,
                secrets_mode=secrets_mode,  # type: ignore[arg-type]
                secrets_dir=secrets_dir,
            )
            outcome = release(tree, request, options)
        echo_findings(outcome.warnings)
        revision = outcome.revision
        label = describe(request.tier.value, request.tenant)
        if fmt == "json":
            click.echo(json.dumps({
                "environment": request.tier.value,
                "tenant": request.tenant,
                "revision": revision.revision,
                "recorded": outcome.recorded,
                "forced": outcome.forced,
                "checksum": revision.content.checksum,
                "pruned": outcome.pruned,
            }, indent=2))
        elif outcome.recorded:
            forced = f" (forced: {revision.content.forced_reason})" if outcome.forced else ""
            click.echo(
                f"released {label} revision {revision.revision} "
                f"{revision.content.checksum}{forced}"
            )
        else:
            click.echo(
                f"{label}: unchanged since revision {revision.revision} "
                f"({revision.content.checksum}); nothing recorded "
                "(--force REASON records it anyway)"
            )
        if outcome.pruned and fmt != "json":
            click.echo(f"pruned {outcome.pruned} old revision(s), keeping the newest {max_history}")
        return 0

    run_guarded(body)


@click.command("history")
@tier_option()
@tenant_option
@store_option
@format_option
def history_command(environment: str, tenant: str | None, store_url: str | None, fmt: str) -> None:
    """List the revisions of a tier (and tenant), oldest first."""

    def body() -> int:
        tier, who = scope_of(environment, tenant)
        with opened_store(store_url) as store:
            revisions = store.history(tier, who)
        if fmt == "json":
            click.echo(json.dumps([r.summary() for r in revisions], indent=2))
            return 0
        if not revisions:
            click.echo(f"no revision of {describe(tier, who)} is recorded yet", err=True)
            return 0
        _print_history(describe(tier, who), revisions)
        return 0

    run_guarded(body)


def _print_history(label: str, revisions: list[Revision]) -> None:
    from rich.table import Table

    table = Table(title=f"history of {label}", title_justify="left")
    for column in ("REVISION", "CREATED (UTC)", "AUTHOR", "CHECKSUM", "ROLLBACK OF", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    for revision in revisions:
        content = revision.content
        message = content.message
        if content.forced_reason is not None:
            message = f"{message} [forced: {content.forced_reason}]".strip()
        table.add_row(
            str(revision.revision),
            revision.created_at,
            content.author,
            content.checksum[:19],
            "" if content.rolled_back_from is None else str(content.rolled_back_from),
            message,
        )
    _console().print(table)


@click.command("show")
@click.argument("revision", type=click.IntRange(min=1))
@tier_option()
@tenant_option
@store_option
@format_option
def show_command(
    revision: int, environment: str, tenant: str | None, store_url: str | None, fmt: str
) -> None:
    """Show one revision: who, when, why, findings and its manifests (secrets as fingerprints)."""

    def body() -> int:
        from tierconf.render import to_yaml

        tier, who = scope_of(environment, tenant)
        with opened_store(store_url) as store:
            stored = store.get(tier, who, revision)
        content = stored.content
        document = {
            **stored.summary(),
            "environment": content.tier,
            "tenant": content.tenant,
            "git_commit": content.git_commit,
            "tierconf_version": content.tierconf_version,
            "forced_reason": content.forced_reason,
            "findings": dict(content.findings),
        }
        if fmt == "json":
            document["values"] = content.values
            document["manifests"] = list(content.manifests)
            click.echo(json.dumps(document, indent=2, default=dict))
            return 0
        click.echo(f"revision {stored.revision} of {describe(tier, who)}")
        for name in ("created_at", "author", "message", "checksum", "rolled_back_from",
                     "forced_reason", "git_commit", "tierconf_version"):
            if document[name] is not None:
                click.echo(f"  {name.replace('_', ' ')}: {document[name]}")
        order = {"error": 0, "warning": 1, "info": 2}
        ranked = sorted(content.findings.items(), key=lambda item: order.get(item[0], 3))
        counts = ", ".join(f"{n} {severity}" for severity, n in ranked)
        click.echo(f"  findings: {counts or 'none'}")
        click.echo("  (secret values are shown as fingerprints)")
        click.echo(to_yaml([dict(m) for m in content.manifests]), nl=False)
        return 0

    run_guarded(body)


@click.command("rollback")
@click.argument("revision", type=click.IntRange(min=1))
@config_options
@tier_option()
@tenant_option
@store_option
@click.option("-m", "--message", default="", help="Why (default: 'Rollback to REV').")
def rollback_command(
    revision: int,
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    tenant: str | None,
    store_url: str | None,
    message: str,
) -> None:
    """Record a new revision with REVISION's content; secrets are re-resolved now.

    Pass the -c/--secrets-dir the release used: relative ${file:...} references are
    read from the config tree.
    """

    def body() -> int:
        from tierconf.cli._common import open_tree
        from tierconf.release import rollback
        from tierconf.secrets import SecretOptions

        tier, who = scope_of(environment, tenant)
        tree = open_tree(config_dir)
        with opened_store(store_url) as store:
            outcome = rollback(
                tree, store, tier, who, revision,
                message=message, secret_options=SecretOptions(secrets_dir=secrets_dir),
            )
        new = outcome.revision
        click.echo(
            f"rolled back {describe(tier, who)} to revision {revision}: "
            f"recorded revision {new.revision} {new.content.checksum}"
        )
        for change in outcome.secret_changes:
            click.echo(
                f"  secret {change.key} changed since revision {revision}: "
                f"{change.before} -> {change.after}"
            )
        if outcome.secret_changes:
            click.echo(
                f"  {len(outcome.secret_changes)} secret(s) differ from revision {revision}: "
                "the new revision carries today's values, so its checksum differs"
            )
        return 0

    run_guarded(body)


@click.group("audit")
def audit_command() -> None:
    """Verify or list the tamper-evident audit trail."""


@audit_command.command("verify")
@store_option
def audit_verify(store_url: str | None) -> None:
    """Recompute the hash chain; exit 1 naming the first altered or missing entry."""

    def body() -> int:
        with opened_store(store_url) as store:
            report = store.verify_audit()
        if report.ok:
            click.echo(f"audit trail intact: {report.entries} entries verified")
            return 0
        where = f" at entry {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        click.echo(f"error: audit trail broken{where}: {report.problem}", err=True)
        return 1

    run_guarded(body)


@audit_command.command("log")
@store_option
@tier_option(required=False)
@tenant_option
@format_option
def audit_log(
    store_url: str | None, environment: str | None, tenant: str | None, fmt: str
) -> None:
    """List audit entries, oldest first (optionally one tier and tenant)."""

    def body() -> int:
        tier = scope_of(environment, None)[0] if environment else None
        with opened_store(store_url) as store:
            entries = store.audit_log(tier, tenant or None)
        if fmt == "json":
            click.echo(json.dumps([_entry_json(e) for e in entries], indent=2))
            return 0
        _print_audit(entries)
        return 0

    run_guarded(body)


def _console() -> Console:
    """A rich console; piped output is not wrapped at 80 columns (scripts grep it)."""
    from rich.console import Console

    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=250)


def _entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "environment": entry.tier,
        "tenant": entry.tenant,
        "revision": entry.revision,
        "checksum": entry.checksum,
        "reason": entry.reason,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _print_audit(entries: list[AuditEntry]) -> None:
    from rich.table import Table

    table = Table(title="audit trail", title_justify="left")
    for column in ("SEQ", "AT (UTC)", "ACTOR", "ACTION", "SCOPE", "REVISION", "REASON"):
        table.add_column(column, no_wrap=column != "REASON")
    for entry in entries:
        table.add_row(
            str(entry.seq),
            entry.at,
            entry.actor,
            entry.action,
            describe(entry.tier, entry.tenant),
            "" if entry.revision is None else str(entry.revision),
            entry.reason,
        )
    _console().print(table)
