"""Sticky bucketing: the documented function, golden vectors, distribution and monotonicity."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierconf.flags import _bucket
from tierconf.flags._bucket import (
    BUCKETS,
    GOLDEN_HASHES,
    SPLIT_SEED,
    PrefixHasher,
    bucket,
    bucket_key,
    in_rollout,
    murmur3_32,
    murmur3_32_pure,
)

#: (flag, tenant, user) -> (rollout bucket, split bucket). Part of the contract: these must
#: never change, or users would move in and out of rollouts on upgrade.
GOLDEN_BUCKETS = [
    ("ai_recommendation", "acme", "u1", 9494, 3655),
    ("ai_recommendation", "acme", "u2", 7208, 9507),
    ("ai_recommendation", None, None, 6146, 846),
    ("sentiment_analysis", "globex-music", "user-42", 5516, 2177),
    ("real_time", "indie-labs", "", 5867, 770),
    ("playlist_generation", "acme", "ünïcødé", 3756, 8599),
    ("analytics", "t00001", "9f1c2e", 1006, 6291),
]
SOAK = bool(os.environ.get("TIERCONF_SOAK"))
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=24)


class TestMurmur3:
    """The pure-Python MurmurHash3 x86 32-bit matches the reference implementation."""

    @pytest.mark.parametrize(("data", "seed", "expected"), GOLDEN_HASHES)
    def test_reference_vectors(self, data: str, seed: int, expected: int) -> None:
        """The pure function gives the reference outputs (SMHasher / mmh3 test vectors)."""
        assert murmur3_32_pure(data.encode(), seed) == expected

    @pytest.mark.parametrize(("data", "seed", "expected"), GOLDEN_HASHES)
    def test_hash_in_use_agrees(self, data: str, seed: int, expected: int) -> None:
        """The hash in use (mmh3 when installed, else pure) gives the reference outputs."""
        assert murmur3_32(data.encode(), seed) == expected

    @given(prefix=text, rest=text, seed=st.sampled_from([0, SPLIT_SEED, 0xFFFFFFFF]))
    def test_prefix_hasher_is_the_same_hash(self, prefix: str, rest: str, seed: int) -> None:
        """Hashing a precomputed prefix then the rest equals hashing the whole key."""
        assert PrefixHasher(prefix, seed)(rest) == murmur3_32_pure((prefix + rest).encode(), seed)

    def test_native_agrees_with_pure_when_installed(self) -> None:
        """When mmh3 is in use it agrees with the pure function on random keys."""
        if not _bucket.NATIVE_HASH:
            pytest.skip("mmh3 is not installed; the pure function is in use")
        rnd = random.Random(7)
        for _ in range(2000):
            key = "".join(rnd.choice("abcxyz:-_éü0189") for _ in range(rnd.randint(0, 40))).encode()
            assert murmur3_32(key, 0) == murmur3_32_pure(key, 0)


class TestBucket:
    """bucket() is murmur3 of "flag:tenant:user" mod 10,000, stable and in range."""

    @pytest.mark.parametrize(("flag", "tenant", "user", "rollout", "split"), GOLDEN_BUCKETS)
    def test_golden_buckets(
        self, flag: str, tenant: str | None, user: str | None, rollout: int, split: int
    ) -> None:
        """Known keys land in their documented buckets, for the rollout and the split seeds."""
        assert bucket(flag, tenant, user) == rollout
        assert bucket(flag, tenant, user, SPLIT_SEED) == split

    def test_key_spelling(self) -> None:
        """The key is UTF-8 of flag:tenant:user with missing parts empty."""
        assert bucket_key("f", None, "u") == b"f::u"
        assert bucket_key("f", "t", None) == b"f:t:"

    @given(flag=text, tenant=text, user=text)
    def test_bucket_in_range(self, flag: str, tenant: str, user: str) -> None:
        """Every key falls in 0..9999."""
        assert 0 <= bucket(flag, tenant, user) < BUCKETS

    @given(flag=text, tenant=text, user=text, p=st.floats(0, 100), q=st.floats(0, 100))
    def test_rollout_is_monotonic(self, flag: str, tenant: str, user: str, p: float, q: float) -> None:
        """A user on at p% stays on at every q >= p (raising a rollout only adds users)."""
        low, high = min(p, q), max(p, q)
        if in_rollout(flag, tenant, user, low):
            assert in_rollout(flag, tenant, user, high)

    def test_edges(self) -> None:
        """0% is nobody and 100% everybody."""
        assert not in_rollout("f", "t", "u", 0)
        assert in_rollout("f", "t", "u", 100)


class TestDistribution:
    """Buckets are uniform: a rollout reaches its percentage of users."""

    @pytest.mark.parametrize("rollout", [1, 12.5, 30, 50, 99])
    def test_share_within_half_a_point(self, rollout: float) -> None:
        """Over 200,000 users (1,000,000 with TIERCONF_SOAK=1) the share is within 0.5 points."""
        users = 1_000_000 if SOAK else 200_000
        threshold = rollout * 100
        prefix = "ai_recommendation:acme:"
        if _bucket.NATIVE_HASH:
            on = sum(murmur3_32(f"{prefix}user-{i}".encode(), 0) % BUCKETS < threshold for i in range(users))
        else:
            hasher = PrefixHasher(prefix, 0)
            on = sum(hasher(f"user-{i}") % BUCKETS < threshold for i in range(users))
        assert abs(on / users * 100 - rollout) <= 0.5
