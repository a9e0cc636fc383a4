"""``open_target``: turn a ``--target`` value into a :class:`DeployTarget`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tierconf.errors import UsageError

from ._protocol import DeployTarget, Scope, TargetOptions

_ACCEPTED = "dir:PATH, kubernetes[:CONTEXT] or etcd://HOST:PORT[,HOST:PORT...]"


def open_target(
    url: str, scope: Scope, options: TargetOptions | None = None, *, publish_secrets: bool = False
) -> DeployTarget:
    """Open the target a ``--target`` value names, for ``scope``.

    ``dir:PATH`` is a GitOps directory; ``kubernetes`` the cluster of the current
    kubeconfig context (``kubernetes:CONTEXT`` another context); ``etcd://HOST:PORT[,...]``
    (``etcds://`` for TLS) publishes the KEYs for live readers (extra ``etcd``), secret values
    only with ``publish_secrets`` over TLS or auth (see :mod:`tierconf.etcd._publish`).

    Raises:
        UsageError: the value is malformed or names no known target.
        DeployError: the target cannot be used (no cluster configured, etcd...).
    """
    options = options or TargetOptions()
    if url.startswith("dir:"):
        path = url.removeprefix("dir:")
        if not path:
            raise UsageError("--target dir:PATH needs a path, e.g. --target dir:deploy/dev")
        from ._directory import DirectoryTarget  # only the target in use is imported

        return DirectoryTarget(Path(path), scope, options)
    if url == "kubernetes" or url.startswith("kubernetes:"):
        context = url.removeprefix("kubernetes").removeprefix(":") or options.context
        from ._kubernetes import KubernetesTarget

        return KubernetesTarget.from_environment(scope, replace(options, context=context))
    if url.startswith(("etcd://", "etcds://")):
        from tierconf.etcd._publish import open_etcd_target  # extra `etcd`, imported when used

        return open_etcd_target(url, scope, options, publish_secrets=publish_secrets)
    raise UsageError(f"unknown target {url!r}; expected {_ACCEPTED}")
