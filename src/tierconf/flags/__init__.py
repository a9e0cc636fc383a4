"""Feature flags: sticky bucketing, evaluation with reasons, and an OpenFeature provider.

``evaluate(snapshot.flags, "ai_recommendation", tenant="acme", user="u1", plan="pro")``
returns a :class:`Resolution` (value, variant, reason, error_code). The bucketing function
is documented in :mod:`tierconf.flags._bucket` and is part of the contract. The OpenFeature
provider (extra ``runtime``) is imported from ``tierconf.flags.openfeature`` only when used:
``from tierconf.flags import TierconfProvider``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierconf.flags._bucket import (
    BUCKETS,
    NATIVE_HASH,
    ROLLOUT_SEED,
    SPLIT_SEED,
    bucket,
    bucket_key,
    in_rollout,
    murmur3_32,
    murmur3_32_pure,
)
from tierconf.flags._evaluate import (
    REASONS,
    CompiledFlag,
    ErrorCode,
    FlagEvaluator,
    Reason,
    Resolution,
    compile_flag,
    evaluate,
    is_enabled,
)

if TYPE_CHECKING:
    from tierconf.flags._openfeature import TierconfProvider

__all__ = [
    "BUCKETS",
    "NATIVE_HASH",
    "REASONS",
    "ROLLOUT_SEED",
    "SPLIT_SEED",
    "CompiledFlag",
    "ErrorCode",
    "FlagEvaluator",
    "Reason",
    "Resolution",
    "TierconfProvider",
    "bucket",
    "bucket_key",
    "compile_flag",
    "evaluate",
    "in_rollout",
    "is_enabled",
    "murmur3_32",
    "murmur3_32_pure",
]


def __getattr__(name: str) -> Any:
    if name == "TierconfProvider":
        from tierconf.flags._openfeature import TierconfProvider

        return TierconfProvider
    raise AttributeError(f"module 'tierconf.flags' has no attribute {name!r}")
