"""Flag evaluation: time per evaluation, and the bucket distribution over 1,000,000 users.

* ``evaluate`` on the plain boolean path (a 30 % rollout restricted to two plans: every
  check of the contract's order plus one hash), each call with a distinct user so no
  cache can help; the floor is the bare sticky-bucket hash of the same key. Measured with
  the hash in use (``mmh3`` when installed) and, in a subprocess, with the pure-Python
  hash (``TIERCONF_PURE_HASH=1``).
* a typed flag with two constraints and a three-way weighted split;
* the OpenFeature SDK's ``get_boolean_details`` through our provider (SDK overhead included);
* the share of 1,000,000 users inside rollouts of 1, 12.5, 30, 50 and 99 % (goal: within
  0.5 percentage points).

Goal (issue 8): one evaluation <= 2 us in process. Run alone: ``python -m benchmarks.bench_flags``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from benchmarks._timing import interleaved_timeit, median
from tierconf.flags import NATIVE_HASH, evaluate
from tierconf.flags._bucket import BUCKETS, hash_text
from tierconf.schema._flags import FlagDefinition

GOAL_US = 2.0
ROLLOUTS = (1.0, 12.5, 30.0, 50.0, 99.0)

PLAIN = FlagDefinition(rollout_percent=30, plans=("pro", "enterprise"))
TYPED = FlagDefinition.model_validate(
    {
        "kind": "string",
        "rollout_percent": 50,
        "variants": [
            {"name": "grid", "value": "grid", "weight": 50},
            {"name": "list", "value": "list", "weight": 30},
            {"name": "cards", "value": "cards", "weight": 20},
            {"name": "classic", "value": "classic"},
        ],
        "default_variant": "classic",
        "constraints": [
            {"attribute": "country", "operator": "in", "values": ["SE", "NO", "FR"]},
            {"attribute": "app_version", "operator": "semver_gte", "value": "2.3.0"},
        ],
    }
)
FLAGS = {"ai_recommendation": PLAIN, "home_layout": TYPED}


def _statements(number: int) -> dict[str, tuple[str, dict[str, Any]]]:
    users = iter([f"user-{i}" for i in range(number * 40)])
    attributes = {"country": "SE", "app_version": "2.4.1"}
    env = {"evaluate": evaluate, "flags": FLAGS, "users": users, "attrs": attributes, "hash_text": hash_text}
    return {
        "ours": ("evaluate(flags, 'ai_recommendation', tenant='acme', user=next(users), plan='pro')", env),
        "typed": (
            "evaluate(flags, 'home_layout', tenant='acme', user=next(users), plan='pro', attributes=attrs)",
            env,
        ),
        "floor": ("hash_text('ai_recommendation:acme:' + next(users), 0)", env),
    }


def evaluation_times(quick: bool) -> dict[str, float]:
    """Median microseconds per evaluation for the plain path, the typed path, the bare hash."""
    number = 2_000 if quick else 20_000
    samples = interleaved_timeit(_statements(number), rounds=3 if quick else 10, number=number)
    return {name: median(values) * 1e6 for name, values in samples.items()}


def distribution(users: int) -> dict[float, float]:
    """Percent of ``users`` inside each rollout of :data:`ROLLOUTS`."""
    buckets = [hash_text(f"ai_recommendation:acme:user-{i}", 0) % BUCKETS for i in range(users)]
    return {rollout: sum(b < rollout * 100 for b in buckets) / users * 100 for rollout in ROLLOUTS}


def openfeature_time(quick: bool) -> float | None:
    """Median microseconds of the SDK client's get_boolean_details through our provider."""
    try:
        from openfeature import api
        from openfeature.evaluation_context import EvaluationContext
    except ImportError:  # pragma: no cover - extra not installed
        return None
    from tierconf.flags import TierconfProvider
    from tierconf.schema import TierConfig

    config = TierConfig.model_validate({"flags": {"ai_recommendation": PLAIN.model_dump()}})

    class Snapshot:
        def snapshot(self) -> TierConfig:
            return config

        def subscribe(self, callback: Any, path: str = "flags") -> None:
            return None

    api.set_provider(TierconfProvider(Snapshot()))
    client = api.get_client()
    contexts = iter(
        [EvaluationContext(f"user-{i}", {"tenant": "acme", "plan": "pro"}) for i in range(60_000)]
    )
    statement = "client.get_boolean_details('ai_recommendation', False, next(contexts))"
    number = 500 if quick else 5_000
    samples = interleaved_timeit(
        {"sdk": (statement, {"client": client, "contexts": contexts})},
        rounds=3 if quick else 8,
        number=number,
    )
    api.clear_providers()
    return median(samples["sdk"]) * 1e6


def _pure_subprocess(quick: bool) -> dict[str, float] | None:
    code = (
        "import json, sys; from benchmarks.bench_flags import evaluation_times; "
        f"print(json.dumps(evaluation_times({quick!r})))"
    )
    env = {**os.environ, "TIERCONF_PURE_HASH": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    return {k: float(v) for k, v in json.loads(result.stdout.strip().splitlines()[-1]).items()}


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows: evaluation time (native and pure hash), typed flags, the SDK, the distribution."""
    times = evaluation_times(quick)
    hash_name = "mmh3" if NATIVE_HASH else "pure-Python murmur3"
    rows: list[dict[str, Any]] = [
        {
            "name": f"flag evaluation, boolean rollout ({hash_name})",
            "ours_median": times["ours"],
            "floor_median": times["floor"],
            "unit": "us",
            "notes": "evaluate(): disabled/deny/allow/plan checks + sticky bucket, a new user each call; "
            "floor: the bucket hash alone",
            "goals": [
                {"goal": "<= 2 us", "measured": f"{times['ours']:.2f} us", "met": times["ours"] <= GOAL_US}
            ],
        },
        {
            "name": "flag evaluation, typed: 2 constraints + 3-way split",
            "ours_median": times["typed"],
            "floor_median": times["floor"],
            "unit": "us",
            "notes": f"in + semver_gte constraints, rollout and variant buckets ({hash_name})",
        },
    ]
    if NATIVE_HASH:
        pure = _pure_subprocess(quick)
        if pure is not None:
            rows.append(
                {
                    "name": "flag evaluation, boolean rollout (pure-Python murmur3)",
                    "ours_median": pure["ours"],
                    "floor_median": pure["floor"],
                    "unit": "us",
                    "notes": "TIERCONF_PURE_HASH=1: no mmh3 (tenant prefix precomputed, blocks memoised)",
                    "goals": [
                        {
                            "goal": "<= 2 us",
                            "measured": f"{pure['ours']:.2f} us",
                            "met": pure["ours"] <= GOAL_US,
                        }
                    ],
                }
            )
    sdk = openfeature_time(quick)
    if sdk is not None:
        rows.append(
            {
                "name": "OpenFeature get_boolean_details via TierconfProvider",
                "ours_median": sdk,
                "floor_median": times["ours"],
                "unit": "us",
                "notes": "openfeature-sdk client -> provider -> evaluate; floor: evaluate() alone",
            }
        )
    users = 100_000 if quick else 1_000_000
    shares = distribution(users)
    worst = max(abs(share - rollout) for rollout, share in shares.items())
    rows.append(
        {
            "name": f"bucket distribution over {users:,} users",
            "ours_median": worst,
            "floor_median": None,
            "unit": "pp",
            "notes": "largest |share - rollout| in percentage points; "
            + ", ".join(f"{r:g}% -> {s:.3f}%" for r, s in shares.items()),
            "goals": [{"goal": "<= 0.5 pp", "measured": f"{worst:.3f} pp", "met": worst <= 0.5}],
        }
    )
    return rows


if __name__ == "__main__":
    for item in run("--quick" in sys.argv):
        print(f"{item['name']:<60} {item['ours_median']:8.3f} {item['unit']}  {item['notes']}")
