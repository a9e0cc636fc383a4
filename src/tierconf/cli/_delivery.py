"""``deploy`` and ``drift``: deliver a tier to a target, and compare the target with it.

``deploy`` prints the plan (secrets masked) before applying it; ``drift`` exits 3 when the
live target differs from the last deployed revision (or a fresh render with --render).
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded, tier_option

if TYPE_CHECKING:
    from tierconf.targets import Plan
    from tierconf.targets._drift_metrics import DriftLabels, DriftMetrics
    from tierconf.targets._plan import DriftReport

F = TypeVar("F", bound=Callable[..., Any])

DRIFT_EXIT_CODE = 3


def target_options(func: F) -> F:
    """--target, --namespace, --secrets, --immutable, --kubeconfig, --store and --format."""
    options = [
        click.option(
            "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
        ),
        click.option("--store", "store_url", metavar="URL",
                     help="Revision store URL (default: sqlite:///.tierconf/store.db)."),
        click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
                     help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)."),
        click.option("--immutable", is_flag=True,
                     help="ConfigMaps immutable, with a kustomize content-hash name suffix."),
        click.option(
            "--secrets", "secrets_mode", type=click.Choice(["inline", "external"]), default="inline",
            show_default=True, help="external: ExternalSecret manifests, no secret value resolved.",
        ),
        click.option("--namespace", metavar="NS", help="Namespace (default: from tierconf.yaml)."),
        click.option(
            "--target", "target_url", required=True, metavar="dir:PATH|kubernetes|etcd://HOST:PORT",
            help="Where to: a GitOps directory, the kubeconfig's cluster, or etcd.",
        ),
    ]
    for option in options:
        func = option(func)
    return func


@click.command("deploy")
@config_options
@tier_option()
@overlay_options
@target_options
@click.option("--dry-run", is_flag=True, help="Show the plan; Kubernetes validates it server-side.")
@click.option("--prune", is_flag=True, help="Delete this scope's objects that are no longer desired.")
@click.option("--force-conflicts", is_flag=True, help="Take over fields other field managers own.")
@click.option("--create-namespace", is_flag=True, help="Create the namespace if it is missing.")
@click.option("--commit", is_flag=True, help="dir: record a git commit of PATH (inside a work tree).")
@click.option(
    "--keep-hashed", type=click.IntRange(min=1), default=3, show_default=True, metavar="N",
    help="--prune keeps the newest N hashed versions of each immutable ConfigMap.",
)
@click.option("-m", "--message", default="", help="Why (recorded with the revision and commit).")
@click.option("--publish-secrets", is_flag=True,
              help="etcd: publish secret values too (needs etcds:// TLS or auth; else fingerprints only).")
def deploy_command(
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    target_url: str,
    namespace: str | None,
    secrets_mode: str,
    immutable: bool,
    kubeconfig: Path | None,
    store_url: str | None,
    fmt: str,
    dry_run: bool,
    prune: bool,
    force_conflicts: bool,
    create_namespace: bool,
    commit: bool,
    keep_hashed: int,
    message: str,
    publish_secrets: bool,
) -> None:
    """Deliver a tier (and tenant) to a target: print the plan, then apply it.

    The content is released first when it is not yet a revision, and the deploy is
    recorded in the audit trail with the revision it delivered.
    """

    def body() -> int:
        from tierconf.cli._common import build_request, echo_findings, open_tree
        from tierconf.store import DEFAULT_STORE_URL, open_store
        from tierconf.targets import (
            DeployOptions,
            TargetOptions,
            deploy,
            format_plan,
            open_target,
            plan_json,
            scope_for,
        )

        if commit and not target_url.startswith("dir:"):
            from tierconf.errors import UsageError

            raise UsageError("--commit records a git commit of a directory: use it with --target dir:PATH")
        tree = open_tree(config_dir)
        request = build_request(environment, tenant, values_files, sets)
        options = DeployOptions(
            target=target_url,
            namespace=namespace,
            secrets_mode=secrets_mode,  # type: ignore[arg-type]
            secrets_dir=secrets_dir,
            immutable=immutable,
            message=message,
            target_options=TargetOptions(
                dry_run=dry_run,
                prune=prune,
                force_conflicts=force_conflicts,
                create_namespace=create_namespace,
                commit=commit,
                keep_hashed=keep_hashed,
                kubeconfig=kubeconfig,
            ),
        )
        target = open_target(
            target_url, scope_for(tree, request, namespace), options.target_options,
            publish_secrets=publish_secrets,
        )
        store = None if dry_run else open_store(store_url or DEFAULT_STORE_URL)
        shown: list[Plan] = []

        def show(plan: Plan) -> None:
            shown.append(plan)
            if fmt == "text":
                click.echo(format_plan(plan), nl=False)

        try:
            outcome = deploy(tree, request, options, store=store, target=target, on_plan=show)
        finally:
            target.close()
            if store is not None:
                store.close()
        echo_findings(outcome.warnings)
        result = outcome.result
        label = request.tier.value + (f"/{request.tenant}" if request.tenant else "")
        if fmt == "json":
            click.echo(json.dumps({
                **plan_json(outcome.plan),
                "dry_run": result.dry_run,
                "revision": outcome.revision.revision if outcome.revision else None,
                "released": outcome.released,
                "result": {
                    "created": list(result.created),
                    "updated": list(result.updated),
                    "deleted": list(result.deleted),
                    "rolled": list(result.rolled),
                    "notes": list(result.notes),
                },
            }, indent=2))
            return 0
        for note in result.notes:
            click.echo(f"note: {note}")
        if outcome.revision is None:
            click.echo(f"dry run of {label} to {result.target}: {result.summary()}")
        else:
            released = " (released now)" if outcome.released else ""
            click.echo(
                f"deployed {label} revision {outcome.revision.revision}{released} to "
                f"{result.target}: {result.summary()}"
            )
        return 0

    run_guarded(body)


@click.command("drift")
@config_options
@tier_option()
@overlay_options
@target_options
@click.option("--render", "fresh", is_flag=True,
              help="Compare with a fresh render instead of the last deployed revision.")
@click.option("--every", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Keep checking every SECONDS until stopped (SIGTERM/SIGINT); print each change.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="With --every: serve tierconf_drift_detected and friends on PORT (/metrics).")
@click.option("--metrics-addr", default="0.0.0.0", show_default=True, metavar="ADDR",  # noqa: S104 - a scrape target
              help="Address --metrics-port listens on.")
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Write the metrics after each check (node_exporter textfile format, atomic).")
def drift_command(
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    target_url: str,
    namespace: str | None,
    secrets_mode: str,
    immutable: bool,
    kubeconfig: Path | None,
    store_url: str | None,
    fmt: str,
    fresh: bool,
    every: float | None,
    metrics_port: int | None,
    metrics_addr: str,
    metrics_file: Path | None,
) -> None:
    """Compare a live target with what was deployed to it, per object and KEY.

    Exit 3 when anything drifted, 0 otherwise. Secrets are compared by fingerprint and
    shown masked; the field manager that last wrote a drifted key is named when known.
    With --every it keeps checking (exit 0 when stopped), prints the report whenever it
    changes and, with --metrics-port or --metrics-file, exports tierconf_drift_detected
    for the shipped dashboard and alerts.
    """

    def body() -> int:
        from tierconf.cli._common import build_request, open_tree
        from tierconf.errors import TierconfError, UsageError
        from tierconf.store import DEFAULT_STORE_URL, open_store
        from tierconf.targets import DriftOptions, TargetOptions, drift, open_target, scope_for
        from tierconf.targets._drift_metrics import DriftLabels, DriftMetrics

        if metrics_port is not None and every is None:
            raise UsageError("--metrics-port serves a check that keeps running: add --every SECONDS")
        if metrics_file is not None and not metrics_file.parent.is_dir():
            raise UsageError(f"--metrics-file {metrics_file}: directory {metrics_file.parent} does not exist")
        tree = open_tree(config_dir)
        request = build_request(environment, tenant, values_files, sets)
        options = DriftOptions(
            target=target_url,
            namespace=namespace,
            render=fresh,
            secrets_mode=secrets_mode,  # type: ignore[arg-type]
            secrets_dir=secrets_dir,
            immutable=immutable,
            target_options=TargetOptions(prune=True, dry_run=True, kubeconfig=kubeconfig),
        )
        target = open_target(target_url, scope_for(tree, request, namespace), options.target_options)
        store = open_store(store_url or DEFAULT_STORE_URL)
        metrics = DriftMetrics() if (metrics_port is not None or metrics_file is not None) else None
        labels = DriftLabels(request.tier.value, request.tenant or "", target.name)
        try:
            if every is None:
                try:
                    report = drift(tree, request, options, store=store, target=target)
                except TierconfError:
                    if metrics is not None and metrics_file is not None:
                        metrics.failed(labels)  # the file says the check could not run
                        with contextlib.suppress(TierconfError):  # the check's error is the one to show
                            _write_metrics_once(metrics, metrics_file)
                    raise
                if metrics is not None and metrics_file is not None:
                    metrics.observed(labels, report, time.time())
                    _write_metrics_once(metrics, metrics_file)
                click.echo(_drift_output(report, fmt), nl=False)
                return DRIFT_EXIT_CODE if report.drift else 0
            if metrics is not None and metrics_port is not None:
                try:
                    metrics.serve(metrics_port, metrics_addr)
                except OSError as exc:
                    where = f"--metrics-port {metrics_port}: cannot listen on {metrics_addr}"
                    raise UsageError(f"{where}: {exc}") from exc
            return _drift_loop(
                lambda: drift(tree, request, options, store=store, target=target),
                every,
                fmt,
                metrics,
                labels,
                metrics_file,
            )
        finally:
            target.close()
            if store is not None:
                store.close()

    run_guarded(body)


def _drift_output(report: DriftReport, fmt: str, *, compact: bool = False) -> str:
    if fmt == "json":
        return json.dumps(report.to_json(), indent=None if compact else 2) + "\n"
    text: str = report.format_text()
    return text


def _drift_loop(
    check: Callable[[], DriftReport],
    every: float,
    fmt: str,
    metrics: DriftMetrics | None,
    labels: DriftLabels,
    metrics_file: Path | None,
) -> int:
    """Run ``check`` every ``every`` seconds until SIGTERM/SIGINT; print what changes.

    A check that cannot run (target or store unreachable) is reported once per distinct
    error on stderr and counted; the loop goes on.
    """
    from tierconf.errors import TierconfError

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    shown: object = None
    shown_write: str | None = None
    while True:
        try:
            report = check()
        except TierconfError as exc:
            if metrics is not None:
                metrics.failed(labels)
            if shown != str(exc):
                click.echo(f"error: drift check failed: {exc}; retrying every {every:g}s", err=True)
                shown = str(exc)
        else:
            if metrics is not None:
                metrics.observed(labels, report, time.time())
            state = report.to_json()
            if state != shown:
                click.echo(_drift_output(report, fmt, compact=True), nl=False)
                shown = state
        if metrics is not None and metrics_file is not None:
            shown_write = _write_metrics(metrics, metrics_file, every, shown_write)
        if stop.wait(every):
            return 0


def _write_metrics_once(metrics: DriftMetrics, path: Path) -> None:
    """Write the textfile of a one-shot check; a failure is one line, exit 1."""
    from tierconf.errors import TierconfError

    try:
        metrics.write_textfile(path)
    except OSError as exc:
        raise TierconfError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _write_metrics(metrics: DriftMetrics, path: Path, every: float, shown: str | None) -> str | None:
    """Write the textfile; a failure (full disk, removed directory) is reported once and
    does not stop the loop. Returns the error shown, for the next call."""
    try:
        metrics.write_textfile(path)
    except OSError as exc:
        message = f"cannot write {path}: {exc.strerror or exc}"
        if shown != message:
            click.echo(f"error: {message}; retrying every {every:g}s", err=True)
        return message
    return None
