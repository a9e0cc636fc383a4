"""Load + merge + validate one tier-tenant configuration: us against the peers.

Everybody loads the same three YAML layers (base, tier, tenant; ~260 settings) written
from the bundled tree by ``_peers.prepare``, and everybody type-checks:

- ours, cold: ``resolve_config`` with a fresh ``LayerReader`` (every file read and parsed);
- ours, per tenant: base and tier layers parsed once (a shared reader), the tenant file read
  and parsed every time: what each tenant costs when rendering many;
- Dynaconf (``settings_files`` + ``merge_enabled`` + one Validator per setting);
- pydantic-settings (``YamlConfigSettingsSource(deep_merge=True)`` over our own domain
  models), and its warm variant (base+tier pre-parsed in a custom source);
- OmegaConf (structured config, ``merge`` + ``to_object``), and its warm variant (base and
  tier ``DictConfig`` loaded once);
- floor: libyaml parse (CSafeLoader) + dict merge, no types, no provenance.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks import _peers
from benchmarks._timing import interleaved, median, summarise
from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.render import get_path
from tierconf.schema._registry import registry
from tierconf.tree import LayerReader, load_tree

#: (rounds, samples per round, extra tenants for the scaling curve); tests shrink QUICK.
QUICK = (2, 2, 3)
FULL = (10, 5, 100)

NAME_COLD = "load+merge+validate, cold (3 layers, ~260 settings)"
NAME_WARM = "load+merge+validate per tenant (base+tier parsed once)"
NAME_BUNDLED = "load+merge+validate, cold, bundled tree as shipped (8 files)"
NAME_SCALING = "N tenants on one tier (base+tier parsed once), per tenant"


def _check_same_values(ours: Any, peers: dict[str, Any]) -> None:
    """Every contender must have produced the same non-secret values (a fairness check)."""
    for spec in registry().settings:
        if spec.secret:
            continue
        expected = get_path(ours, spec.path)
        for name, config in peers.items():
            value = get_path(config, spec.path)
            if isinstance(expected, tuple):
                value = tuple(getattr(v, "value", v) for v in value)  # OmegaConf enums
            else:
                value = getattr(value, "value", value)
            if value != expected:
                raise AssertionError(f"{name}: {spec.path} = {value!r}, ours {expected!r}")


def _ours_warm(tree_dir: Path, tenant: str) -> Callable[[], Any]:
    tree = load_tree(tree_dir)
    shared = LayerReader(tree)
    request = ConfigRequest(_peers.TIER, tenant)
    resolve_config(tree, ConfigRequest(_peers.TIER), shared)  # parses base + tier once
    warm = dict(shared._cache)

    def load() -> Any:
        # A reader that already holds base + tier, so only the tenant file is read.
        return resolve_config(tree, request, LayerReader(tree, dict(warm)))

    return load


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows for the load benchmarks (``quick``: few samples, small scaling curve)."""
    _peers.clean_env()
    rounds, per_round, tenants = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="tierconf-bench-load-") as tmp:
        ws = _peers.prepare(Path(tmp), tenants=tenants)
        files = (ws.base, ws.tier, ws.tenant)
        tree = load_tree(ws.ours)
        request = ConfigRequest(_peers.TIER, _peers.TENANT)
        bundled = load_tree()
        bundled_files = (
            *bundled.base_files(),
            bundled.tier_file(_peers.TIER),
            bundled.tenant_file(_peers.TENANT),
        )

        cold: dict[str, Callable[[], Any]] = {
            "ours": lambda: resolve_config(tree, request),
            "floor": lambda: _peers.floor_load(files),
        }
        warm: dict[str, Callable[[], Any]] = {"ours": _ours_warm(ws.ours, _peers.TENANT)}
        base_tier = _peers.floor_load((ws.base, ws.tier))
        warm["floor"] = lambda: _peers.deep_merge(base_tier, _peers.floor_load((ws.tenant,)))
        notes: list[str] = []
        peer_configs: dict[str, Any] = {}
        flag_names = tuple((yaml.safe_load(ws.base.read_text(encoding="utf-8")) or {}).get("flags") or ())
        if _peers.available("dynaconf"):
            cold["dynaconf"] = _peers.dynaconf_loader(files, _peers.dynaconf_validators(flag_names))
            peer_configs["dynaconf"] = cold["dynaconf"]()
        else:
            notes.append("dynaconf not installed")
        if _peers.available("pydantic-settings"):
            settings_cls = _peers.pydantic_settings_class(files)
            cold["pydantic-settings"] = settings_cls
            peer_configs["pydantic-settings"] = settings_cls()
            warm_cls = _peers.pydantic_settings_class((ws.tenant,), preparsed=base_tier)
            warm["pydantic-settings"] = warm_cls
            peer_configs["pydantic-settings (warm)"] = warm_cls()
        else:
            notes.append("pydantic-settings not installed")
        if _peers.available("omegaconf"):
            from omegaconf import OmegaConf

            schema = _peers.omegaconf_schema()
            cold["omegaconf"] = _peers.omegaconf_loader(files, schema)
            peer_configs["omegaconf"] = cold["omegaconf"]()
            preloaded = (OmegaConf.load(ws.base), OmegaConf.load(ws.tier))
            warm["omegaconf"] = _peers.omegaconf_loader((ws.tenant,), schema, preloaded)
            peer_configs["omegaconf (warm)"] = warm["omegaconf"]()
        else:
            notes.append("omegaconf not installed")
        ours_config = resolve_config(tree, request).config
        _check_same_values(ours_config, peer_configs)
        _check_same_values(ours_config, {"ours (warm)": warm["ours"]().config})

        cold_samples = interleaved(cold, rounds=rounds, per_round=per_round)
        warm_samples = interleaved(warm, rounds=rounds, per_round=per_round * 4)
        bundled_samples = interleaved(
            {
                "ours": lambda: resolve_config(bundled, request),
                "floor": lambda: _peers.floor_load(bundled_files),
            },
            rounds=rounds,
            per_round=per_round,
        )
        scaling = _scaling(ws, tenants, quick)

    cold_row = {
        "name": NAME_COLD,
        **summarise(cold_samples, "ours", "floor", "ms"),
        "notes": "; ".join(
            [
                f"{ws.settings} settings; all contenders type-check the same values",
                "floor: libyaml parse + dict merge (no types, no provenance)",
                *notes,
            ]
        ),
    }
    warm_row = {
        "name": NAME_WARM,
        **summarise(warm_samples, "ours", "floor", "ms"),
        "notes": "peers' warm variants: pydantic-settings with base+tier in a pre-parsed source, "
        "OmegaConf with base+tier DictConfigs loaded once; Dynaconf has no such mode",
    }
    bundled_row = {
        "name": NAME_BUNDLED,
        **summarise(bundled_samples, "ours", "floor", "ms"),
        "notes": "ours only: 6 base files + tier + tenant, comments included",
    }
    scaling_row: dict[str, Any] = {
        "name": NAME_SCALING.replace("N", str(tenants)),
        "ours_median": scaling["ours"][-1][1],
        "peers": {k: v[-1][1] for k, v in scaling.items() if k != "ours" and v and v[-1][0] == tenants},
        "floor_median": None,
        "unit": "ms",
        "notes": "median over 3 repetitions of resolving every tenant once; curve in load_scaling.png",
        "scaling": {"x_label": "tenants", "y_label": "ms per tenant", "series": scaling, "log": True},
    }
    _goals(cold_row, warm_row)
    return [cold_row, warm_row, bundled_row, scaling_row]


def _goals(cold_row: dict[str, Any], warm_row: dict[str, Any]) -> None:
    """The issue's goals: per tenant-tier >= 20x pydantic-settings and >= 300x Dynaconf."""
    ours = warm_row["ours_median"]
    goals = []
    for peer, factor in (("pydantic-settings", 20), ("dynaconf", 300)):
        theirs = cold_row["peers"].get(peer)
        if theirs is None:
            continue
        ratio = theirs / ours
        goals.append(
            {
                "goal": f"per tenant-tier >= {factor}x faster than {peer} (its per-config load)",
                "measured": f"{ratio:.0f}x ({ours:.3f} ms vs {theirs:.2f} ms)",
                "met": ratio >= factor,
            }
        )
        warm_theirs = warm_row["peers"].get(peer)
        if warm_theirs is not None:
            goals.append(
                {
                    "goal": f"strict reading: same vs {peer}'s own warm variant",
                    "measured": f"{warm_theirs / ours:.0f}x ({ours:.3f} ms vs {warm_theirs:.2f} ms)",
                    "met": warm_theirs / ours >= factor,
                }
            )
    cold_peer = cold_row["peers"].get("pydantic-settings")
    if cold_peer is not None:
        goals.append(
            {
                "goal": "cold (every file parsed) vs pydantic-settings, for information",
                "measured": f"{cold_peer / cold_row['ours_median']:.1f}x",
                "met": None,
            }
        )
    warm_row["goals"] = goals


def _scaling(ws: _peers.Workspace, tenants: int, quick: bool) -> dict[str, list[tuple[float, float]]]:
    """Milliseconds per tenant to resolve N tenants of one tier, for growing N."""
    points = [n for n in (1, 3, 10, 30, 100, 300, 1000) if n <= tenants]
    tree = load_tree(ws.ours)
    names = [f"t{i:04d}" for i in range(tenants)]
    series: dict[str, list[tuple[float, float]]] = {"ours": []}
    base_tier = _peers.floor_load((ws.base, ws.tier))
    makers: dict[str, Callable[[tuple[Path, ...]], Callable[[], Any]]] = {}
    if _peers.available("pydantic-settings"):
        makers["pydantic-settings (warm)"] = lambda fs: _each(
            [_peers.pydantic_settings_class((f,), preparsed=base_tier) for f in fs]
        )
    if _peers.available("omegaconf"):
        from omegaconf import OmegaConf

        schema = _peers.omegaconf_schema()
        preloaded = (OmegaConf.load(ws.base), OmegaConf.load(ws.tier))
        makers["omegaconf (warm)"] = lambda fs: _each(
            [_peers.omegaconf_loader((f,), schema, preloaded) for f in fs]
        )
    if _peers.available("dynaconf"):
        validators = _peers.dynaconf_validators(
            tuple((yaml.safe_load(ws.base.read_text(encoding="utf-8")) or {}).get("flags") or ())
        )
        makers["dynaconf"] = lambda fs: _each(
            [_peers.dynaconf_loader((ws.base, ws.tier, f), validators) for f in fs]
        )
    for name in makers:
        series[name] = []
    limit = {"dynaconf": 1 if quick else 10}
    shared = LayerReader(tree)
    resolve_config(tree, ConfigRequest(_peers.TIER), shared)  # base + tier parsed once, untimed
    warm = dict(shared._cache)
    for n in points:

        def ours(n: int = n) -> None:
            reader = LayerReader(tree, dict(warm))
            for tenant in names[:n]:
                resolve_config(tree, ConfigRequest(_peers.TIER, tenant), reader)

        contenders: dict[str, Callable[[], Any]] = {"ours": ours}
        for name, make in makers.items():
            if n <= limit.get(name, tenants):
                contenders[name] = make(ws.tenants[:n])
        samples = interleaved(contenders, rounds=3, per_round=1)
        for name, values in samples.items():
            series[name].append((float(n), median(values) * 1e3 / n))
    return series


def _each(loaders: list[Callable[[], Any]]) -> Callable[[], None]:
    def run_all() -> None:
        for load in loaders:
            load()

    return run_all
