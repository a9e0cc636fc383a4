"""Sticky bucketing: which of 10,000 buckets a (flag, tenant, user) falls in.

The function (part of the contract: it must never change between releases, or users
would flip in and out of rollouts on upgrade)::

    key    = f"{flag}:{tenant}:{user}"           # a missing tenant or user is ""
    bucket = murmur3_x86_32(key.encode("utf-8"), seed) % 10_000

with MurmurHash3 x86 32-bit (Austin Appleby's reference ``MurmurHash3_x86_32``, result
read as an unsigned 32-bit integer) and

* ``seed = 0`` (:data:`ROLLOUT_SEED`) for the rollout decision: the flag is on when
  ``bucket < rollout_percent * 100``, so 12.5 % means buckets 0..1249;
* ``seed = 86028157`` (:data:`SPLIT_SEED`, the seed Unleash uses for variants) for the
  weighted variant split, so that which variant a user gets is independent of whether
  the user is inside the rollout.

This is Unleash's ``normalizedHash`` with the group id being ``flag`` and the user id
``tenant:user``, at a resolution of 1/100 of a percent. Because the bucket does not depend
on the percentage, raising a rollout only adds users: a user on at p % is on at every
q >= p (tested with hypothesis).

The hash is computed in pure Python (integer arithmetic with explicit 32-bit masks, the
input read as little-endian words), so it is the same on every platform and process
(unlike ``hash()``, which is salted per process). When the optional ``mmh3`` wheel is
installed it is used instead, after checking at import that both agree on the golden
vectors; a disagreement disables it, and so does the environment variable
``TIERCONF_PURE_HASH=1`` (used by the tests to exercise the pure path).
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable

BUCKETS = 10_000
ROLLOUT_SEED = 0
SPLIT_SEED = 86_028_157

_MASK = 0xFFFFFFFF
_C1 = 0xCC9E2D51
_C2 = 0x1B873593

#: (input, seed, expected unsigned hash): the reference implementation's outputs, checked
#: at import against ``mmh3`` and in the test-suite against the pure function.
GOLDEN_HASHES: tuple[tuple[str, int, int], ...] = (
    ("", 0, 0x00000000),
    ("", 1, 0x514E28B7),
    ("", 0xFFFFFFFF, 0x81F16F39),
    ("\x00\x00\x00\x00", 0, 0x2362F9DE),
    ("aaaa", 0x9747B28C, 0x5A97808A),
    ("abc", 0, 0xB3DD93FA),
    ("Hello, world!", 0x9747B28C, 0x24884CBA),
    ("The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
)


def murmur3_32_pure(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit of ``data`` as an unsigned int, in pure Python."""
    return _finish(_blocks(seed & _MASK, data), data, len(data))


#: block word -> its mixed form (``rotl(word * c1, 15) * c2``): user and tenant ids repeat
#: the same few thousand 4-byte blocks, and a lookup costs a third of the arithmetic.
_MIXED: dict[int, int] = {}
_MIXED_KEPT = 1 << 16


def _blocks(h: int, data: bytes) -> int:
    """Mix the whole 4-byte blocks of ``data`` into the running state ``h``."""
    nblocks = len(data) >> 2
    if nblocks:
        mixed = _MIXED
        words = _SHORT_WORDS[nblocks] if nblocks < len(_SHORT_WORDS) else _words(nblocks)
        for word in words.unpack_from(data):
            k = mixed.get(word)
            if k is None:
                k = (word * _C1) & _MASK
                k = ((k << 15) | (k >> 17)) & _MASK
                k = (k * _C2) & _MASK
                if len(mixed) < _MIXED_KEPT:
                    mixed[word] = k
            h ^= k
            h = ((h << 13) | (h >> 19)) & _MASK
            h = (h * 5 + 0xE6546B64) & _MASK
    return h


def _finish(h: int, data: bytes, length: int) -> int:
    """Mix the 0..3 trailing bytes of ``data``, then the total ``length``, and finalize."""
    tail = len(data) & 3
    if tail:
        base = len(data) - tail
        k = data[base]
        if tail > 1:
            k |= data[base + 1] << 8
        if tail > 2:
            k |= data[base + 2] << 16
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        h ^= (k * _C2) & _MASK
    h ^= length & _MASK
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    return h ^ (h >> 16)


class PrefixHasher:
    """murmur3 of ``prefix + text`` with the prefix's whole blocks mixed in once.

    A flag's keys all start with ``flag:``; mixing those bytes once per flag instead of
    once per evaluation makes the pure-Python path about a third faster. The result is
    exactly ``murmur3_32_pure((prefix + text).encode(), seed)``.
    """

    __slots__ = ("_length", "_rest", "_state")

    def __init__(self, prefix: str, seed: int) -> None:
        raw = prefix.encode()
        whole = len(raw) - (len(raw) & 3)
        self._state = _blocks(seed & _MASK, raw[:whole])
        self._rest = raw[whole:]
        self._length = len(raw)

    def __call__(self, text: str) -> int:
        """The hash of ``prefix + text``."""
        data = self._rest + text.encode()
        return _finish(_blocks(self._state, data), data, self._length - len(self._rest) + len(data))


@functools.lru_cache(maxsize=64)
def _words(count: int) -> struct.Struct:
    # Little-endian on purpose: the reference reads blocks as uint32 in x86 byte order.
    return struct.Struct(f"<{count}I")


#: The unpackers of keys up to 128 bytes, built once (an index is cheaper than the cache).
_SHORT_WORDS = tuple(struct.Struct(f"<{count}I") for count in range(33))


def _hash_text_pure(text: str, seed: int = 0) -> int:
    return murmur3_32_pure(text.encode(), seed)


def _load_native() -> tuple[Callable[[bytes, int], int], Callable[[str, int], int]] | None:
    """``mmh3.hash`` (unsigned) for bytes and str, if installed and agreeing with the vectors."""
    if os.environ.get("TIERCONF_PURE_HASH"):
        return None
    try:
        import mmh3  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    native: Callable[..., int] = mmh3.hash
    for text, seed, expected in (*GOLDEN_HASHES, ("ai_recommendation:acmé:ü", 0, None)):
        want = expected if expected is not None else murmur3_32_pure(text.encode(), seed)
        # mmh3 hashes str as its UTF-8 bytes; check both spellings.
        if native(text, seed, signed=False) != want or native(text.encode(), seed, signed=False) != want:
            return None
    return functools.partial(native, signed=False), functools.partial(native, signed=False)


_native = _load_native()

#: The hash in use for bytes: ``mmh3`` when available and verified, else the pure function.
murmur3_32: Callable[[bytes, int], int] = _native[0] if _native else murmur3_32_pure
#: The same hash of a str's UTF-8 bytes (saves the encode on the native path).
hash_text: Callable[[str, int], int] = _native[1] if _native else _hash_text_pure
#: Whether the native ``mmh3`` wheel is in use (benchmarks report it).
NATIVE_HASH = _native is not None


def bucket_key(flag: str, tenant: str | None, user: str | None) -> bytes:
    """The hashed key: UTF-8 of ``flag:tenant:user`` (a missing part is empty)."""
    return f"{flag}:{tenant or ''}:{user or ''}".encode()


def bucket(flag: str, tenant: str | None, user: str | None, seed: int = ROLLOUT_SEED) -> int:
    """The sticky bucket 0..9999 of (flag, tenant, user); see the module docstring."""
    return murmur3_32(bucket_key(flag, tenant, user), seed) % BUCKETS


def in_rollout(flag: str, tenant: str | None, user: str | None, rollout_percent: float) -> bool:
    """Whether (flag, tenant, user) is inside a rollout of ``rollout_percent`` (0..100)."""
    return bucket(flag, tenant, user) < rollout_percent * 100
