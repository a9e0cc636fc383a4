"""Reading one nested setting, ``snap.database.postgres.pool_size``, from a loaded config.

Ours: the ``TierConfig`` snapshot (frozen pydantic models). Peers: a Dynaconf settings object
(``settings.database.postgres.pool_size``), OmegaConf's merged structured ``DictConfig``
(what OmegaConf code reads from), a pydantic-settings instance. Floor: a chain of frozen
``slots`` dataclasses. ``timeit`` statements, the bare loop's cost subtracted.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks import _peers
from benchmarks._timing import interleaved_timeit, summarise
from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.tree import load_tree

#: (rounds, reads per sample); tests shrink QUICK.
QUICK = (5, 20_000)
FULL = (101, 1_000_000)

NAME = "read snap.database.postgres.pool_size"
STATEMENT = "snap.database.postgres.pool_size"


@dataclass(frozen=True, slots=True)
class _Postgres:
    pool_size: int


@dataclass(frozen=True, slots=True)
class _Database:
    postgres: _Postgres


@dataclass(frozen=True, slots=True)
class _Root:
    database: _Database


def run(quick: bool) -> list[dict[str, Any]]:
    """One row: nanoseconds per access, ours vs peers vs the dataclass floor."""
    _peers.clean_env()
    rounds, number = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="tierconf-bench-access-") as tmp:
        ws = _peers.prepare(Path(tmp))
        files = (ws.base, ws.tier, ws.tenant)
        ours = resolve_config(load_tree(ws.ours), ConfigRequest(_peers.TIER, _peers.TENANT)).config
        snaps: dict[str, Any] = {
            "ours": ours,
            "floor": _Root(_Database(_Postgres(ours.database.postgres.pool_size))),
        }
        notes = ["ns per read, loop overhead subtracted"]
        if _peers.available("dynaconf"):
            flags = tuple((yaml.safe_load(ws.base.read_text(encoding="utf-8")) or {}).get("flags") or ())
            snaps["dynaconf"] = _peers.dynaconf_loader(files, _peers.dynaconf_validators(flags))()
        if _peers.available("pydantic-settings"):
            snaps["pydantic-settings"] = _peers.pydantic_settings_class(files)()
        if _peers.available("omegaconf"):
            snaps["omegaconf"] = _peers.omegaconf_config(files, _peers.omegaconf_schema())
        expected = ours.database.postgres.pool_size
        for name, snap in snaps.items():
            value = snap.database.postgres.pool_size
            if value != expected:
                raise AssertionError(f"{name}: pool_size {value!r}, ours {expected!r}")
        samples = interleaved_timeit(
            {name: (STATEMENT, {"snap": snap}) for name, snap in snaps.items()}, rounds=rounds, number=number
        )
    row: dict[str, Any] = {
        "name": NAME,
        **summarise(samples, "ours", "floor", "ns"),
        "notes": "; ".join(notes),
    }
    ratio = row["ours_median"] / row["floor_median"] if row["floor_median"] else float("inf")
    row["goals"] = [
        {
            "goal": "setting access <= 2x a frozen dataclass attribute chain",
            "measured": f"{ratio:.2f}x ({row['ours_median']:.1f} ns vs {row['floor_median']:.1f} ns)",
            "met": ratio <= 2.0,
        }
    ]
    return [row]
