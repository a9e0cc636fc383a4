"""Rendering: our render time for a tier, and checking 1,000 rendered objects with
kubernetes-validate (the official OpenAPI schemas, strict mode).

``render`` is pure (no I/O): a resolved configuration -> ConfigMaps and Secrets. Secrets use
masked stand-in values (``placeholder_secrets``) so no secret source is involved.
kubernetes-validate is not a competitor of ``render``; the row shows what schema-checking
the output would add per object, next to what producing it costs.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from benchmarks._timing import interleaved, median, summarise
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.render import RenderOptions, render, to_yaml
from tierconf.schema._registry import registry
from tierconf.secrets import placeholder_secrets
from tierconf.tiers import ALL_TIERS, EnvironmentTier
from tierconf.tree import LayerReader, load_tree

#: (rounds, samples per round, objects for kubernetes-validate); tests shrink QUICK.
QUICK = (3, 5, 20)
FULL = (10, 20, 1000)


def _resolved_all() -> list[ResolvedConfig]:
    tree = load_tree()
    reader = LayerReader(tree)
    out = []
    for tier in ALL_TIERS:
        for tenant in (None, *tree.tenants()):
            out.append(resolve_config(tree, ConfigRequest(tier, tenant), reader))
    return out


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows: render one tier; render vs kubernetes-validate for N objects (1,000; 20 quick)."""
    secrets = placeholder_secrets(s.key for s in registry().settings if s.secret)
    resolved = _resolved_all()
    one = next(r for r in resolved if r.tier is EnvironmentTier.PRODUCTION and r.tenant == "acme")
    rounds, per_round, total = QUICK if quick else FULL
    samples = interleaved(
        {
            "ours": lambda: render(one, secrets),
            "render + YAML": lambda: to_yaml([o.manifest for o in render(one, secrets).objects]),
        },
        rounds=rounds,
        per_round=per_round,
    )
    count = len(render(one, secrets).objects)
    render_row: dict[str, Any] = {
        "name": f"render one tier+tenant ({count} objects)",
        **summarise({"ours": samples["ours"]}, "ours", None, "ms"),
        "notes": f"production/acme; with YAML serialisation: {median(samples['render + YAML']) * 1e3:.2f} ms",
    }
    # Many tenants' worth of objects: cycle through every tier x tenant with distinct namespaces.
    plan = [
        (r, RenderOptions(namespace=f"bench-{i}"))
        for i, r in zip(range(total), itertools.cycle(resolved), strict=False)
    ]

    def render_many() -> list[dict[str, Any]]:
        manifests: list[dict[str, Any]] = []
        for res, options in plan:
            for obj in render(res, secrets, options).objects:
                manifests.append(dict(obj.manifest))
                if len(manifests) == total:
                    return manifests
        return manifests

    manifests = render_many()
    while len(manifests) < total:  # pragma: no cover - the plan above always suffices
        manifests.extend(manifests[: total - len(manifests)])
    contenders: dict[str, Any] = {"ours": render_many}
    notes = [f"{len(manifests)} objects (ConfigMaps and Secrets of every tier and tenant)"]
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import latest_version

        version = latest_version()

        def validate_all() -> None:
            for manifest in manifests:
                kubernetes_validate.validate(manifest, version, strict=True)

        kubernetes_validate.validate(manifests[0], version, strict=True)  # loads the schemas once
        contenders["kubernetes-validate"] = validate_all  # raises if any object is invalid
        notes.append(f"kubernetes-validate strict, Kubernetes {version}; different work than render")
    except ImportError:
        notes.append("kubernetes-validate not installed")
    many = interleaved({"ours": render_many}, rounds=3, per_round=1)
    if "kubernetes-validate" in contenders:  # one pass: ~15-40 ms per object, so a 1,000-object
        start = time.perf_counter()  # pass is long enough to be its own median
        contenders["kubernetes-validate"]()
        many["kubernetes-validate"] = [time.perf_counter() - start]
    many_row: dict[str, Any] = {
        "name": f"{len(manifests)} rendered objects: render vs kubernetes-validate",
        **summarise(many, "ours", None, "ms"),
        "notes": "; ".join(notes),
    }
    return [render_row, many_row]
