"""From raw ``KEY -> bytes`` to one validated, immutable :class:`LiveState` (pure: no I/O).

The content of a source is read back exactly as ``render`` wrote it: each KEY is mapped to
its setting through the registry and parsed by type (:func:`~tierconf.render.parse_rendered`),
``FLAG_<NAME>`` KEYs hold a flag's JSON, secret KEYs hold the plaintext value. The result
goes through the same pipeline as the CLI's (``resolve_config``: merge, schema) with the
source as the only layer, then through the checks (the rule engine by default). Any error
rejects the whole update.

Secret values never enter the typed snapshot: a secret setting holds a ``SecretRef`` to
the file (``${file:/etc/config/DB_PASSWORD}``) and the values travel beside the snapshot
in :class:`LiveSecrets`, which never prints them.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tierconf.errors import ConfigError, InvalidConfigurationError, Location, SchemaError
from tierconf.findings import Finding
from tierconf.flags import FlagEvaluator
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.provenance import LayeredValue, Origin
from tierconf.render._values import parse_rendered
from tierconf.schema._flags import FLAG_NAME, STRUCTURED_FLAG_FIELDS
from tierconf.schema._registry import FlagFieldSpec, LeafType, Registry, registry
from tierconf.schema._root import TierConfig
from tierconf.schema._secret_ref import MASK, SecretRef
from tierconf.secrets._fingerprint import fingerprint
from tierconf.sources._convert import ConversionError
from tierconf.sources._layer import Entry, Layer
from tierconf.tiers import EnvironmentTier
from tierconf.tree import ConfigTree, ProjectSpec, Silence

#: Work on one KEY's content kept between builds: (KEY, content) -> parsed value or the
#: ConversionError, and (origin, tier, KEY, content) -> what reading it contributes
#: (:class:`_Read`). Most KEYs are the same from one version to the next, so a runtime
#: passes the same memo to every build_state call.
ParseMemo = dict[tuple[Any, ...], Any]
_MISSING = object()
_MEMO_SIZE = 4096
#: ``Check`` as in :mod:`tierconf.validation`: findings about a schema-valid configuration.
Check = Callable[[ResolvedConfig], Sequence[Finding]]
FLAG_PREFIX = "FLAG_"
MAX_VALUE_BYTES = 1024 * 1024


class LiveSecrets:
    """Secret values of one applied configuration, by KEY. Printing it shows masks only."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __repr__(self) -> str:
        return "LiveSecrets(" + ", ".join(f"{key}={MASK}" for key in sorted(self._values)) + ")"

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def keys(self) -> tuple[str, ...]:
        """The secret KEYs present."""
        return tuple(sorted(self._values))

    def get(self, key: str) -> str | None:
        """The value of secret KEY, or None when the source has no such file."""
        return self._values.get(key)

    def fingerprints(self) -> dict[str, str]:
        """KEY -> fingerprint: tells which secrets changed without holding them."""
        return {key: fingerprint(value) for key, value in self._values.items()}

    def values(self) -> tuple[str, ...]:
        """The plaintext values (for redaction of logs only)."""
        return tuple(self._values.values())


@dataclass(frozen=True)
class LiveState:
    """One applied configuration: the typed snapshot and everything read with it.

    Replaced as a whole on every applied update, so a reader holding one sees a single
    consistent version: snapshot, secrets and revision always belong together.

    Attributes:
        config: The immutable typed snapshot.
        revision: The source's revision, or the first 12 hex digits of the checksum.
        checksum: ``sha256:`` over every KEY and its content (secrets fingerprinted).
        origin: Where it was read from.
        applied_at: Unix time it was swapped in.
        secrets: The secret values, by KEY.
        secret_fingerprints: KEY -> fingerprint, to see which secrets changed.
        flags: The snapshot's flags, compiled for evaluation.
        keys: The KEYs the source held.
        warnings: Findings of severity warning or info, logged when applied.
        unknown_keys: KEYs of the source that no setting owns (ignored, logged).
    """

    config: TierConfig = field(repr=False)
    revision: str
    checksum: str
    origin: str
    applied_at: float
    secrets: LiveSecrets = field(repr=False)
    secret_fingerprints: Mapping[str, str] = field(repr=False)
    flags: FlagEvaluator = field(repr=False)
    keys: frozenset[str] = field(default=frozenset(), repr=False)
    warnings: tuple[Finding, ...] = field(default=(), repr=False)
    unknown_keys: tuple[str, ...] = ()

    def secret(self, key: str) -> str:
        """The value of secret KEY (``JWT_SECRET_KEY``).

        Raises:
            SchemaError: KEY is not a secret setting, or the source holds no value for it.
        """
        spec = registry().by_key.get(key)
        if spec is None or not spec.secret:
            raise SchemaError(f"{key} is not a secret setting", path=spec.path if spec else None)
        value = self.secrets.get(key)
        if value is None:
            raise SchemaError(
                f"{key} has no value in {self.origin}; mount the Secret that holds it", path=spec.path
            )
        return value


def key_location(origin: str, key: str) -> Location:
    """Where a KEY of a source is, for messages: ``/etc/config/DB_PORT``, ``memory://DB_PORT``."""
    return Location(origin + key if origin.endswith("/") else f"{origin}/{key}")


def checksum_of(files: Mapping[str, bytes], secret_keys: Iterable[str]) -> str:
    """``sha256:<hex>`` over every KEY and its content, sorted by KEY.

    Each KEY and content is length-prefixed (``<len>:<bytes>``), so no two different sets
    hash alike; a secret's content is replaced by its fingerprint, so the checksum can be
    logged and exported as a metric label.
    """
    hidden = set(secret_keys)
    parts: list[bytes] = []
    for key in sorted(files):
        content = files[key]
        if key in hidden:
            content = fingerprint(content.decode("utf-8", "replace")).encode()
        name = key.encode()
        parts.append(b"%d:%s%d:" % (len(name), name, len(content)))
        parts.append(content)
    # One update over the joined input: the same hash as one update per part, without
    # ~400 calls into hashlib per reload.
    return "sha256:" + hashlib.sha256(b"".join(parts)).hexdigest()


@dataclass(frozen=True)
class _SourceTree(ConfigTree):
    """A tree without layer files: the source is the only layer."""

    def base_files(self) -> tuple[Path, ...]:
        return ()

    def tier_file(self, tier: EnvironmentTier) -> Path | None:
        return None


def _json_value(value: Any, spec: FlagFieldSpec) -> Any:
    if spec.name in STRUCTURED_FLAG_FIELDS:  # lists of mappings: the schema validates them
        return tuple(value) if isinstance(value, list) else value
    leaf = spec.type
    if leaf.sequence:
        if not isinstance(value, list):
            raise ConversionError(f"expected {leaf.describe()}, found {type(value).__name__}")
        item = LeafType(leaf.kind, leaf.choices)
        return tuple(_scalar(v, item) for v in value)
    if value is None and leaf.optional:
        return None
    return _scalar(value, leaf)


def _scalar(value: Any, leaf: LeafType) -> Any:
    kind = leaf.kind
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }.get(kind, isinstance(value, str))
    if not ok:
        raise ConversionError(f"expected {leaf.describe()}, found {json.dumps(value)[:80]}")
    return float(value) if kind == "float" else value


@dataclass(frozen=True)
class _Read:
    """What one KEY's content contributes to a build (memoised per content)."""

    entries: tuple[tuple[str, Entry, LayeredValue], ...]
    secret: str | None
    problems: tuple[ConfigError, ...]
    unknown: bool


class _Reader:
    """Turns the files of one source into layer entries, collecting every problem."""

    def __init__(self, origin: str, tier: EnvironmentTier, reg: Registry, memo: ParseMemo) -> None:
        self.memo = memo
        self.origin = origin
        self.tier = tier
        self.reg = reg
        self.entries: dict[str, Entry] = {}
        self.layered: dict[str, LayeredValue] = {}
        self.secrets: dict[str, str] = {}
        self.problems: list[ConfigError] = []
        self.unknown: list[str] = []

    def problem(self, key: str, path: str | None, message: str) -> None:
        where = key_location(self.origin, key)
        self.problems.append(SchemaError(message, location=where, path=path))

    def read(self, key: str, content: bytes) -> None:
        """Add what ``key`` holding ``content`` contributes (memoised: see :data:`ParseMemo`).

        Secret KEYs and oversized content are read every time instead: cheap, and a memo
        must not keep a rotated secret's plaintext (or a megabyte) alive.
        """
        spec = self.reg.by_key.get(key)
        remembered = not ((spec is not None and spec.secret) or len(content) > MAX_VALUE_BYTES)
        memo_key = (self.origin, self.tier, key, content)
        done = self.memo.get(memo_key) if remembered else None
        if done is None:
            scratch = _Reader(self.origin, self.tier, self.reg, self.memo)
            scratch.read_uncached(key, content)
            origin = self.origin
            done = _Read(
                tuple(
                    (path, entry, LayeredValue(path, (Origin(origin, "values", origin, None, entry.value),)))
                    for path, entry in scratch.entries.items()
                ),
                scratch.secrets.get(key),
                tuple(scratch.problems),
                bool(scratch.unknown),
            )
            if remembered:
                self.remember(memo_key, done)
        for path, entry, layered in done.entries:
            self.entries[path] = entry
            self.layered[path] = layered
        if done.secret is not None:
            self.secrets[key] = done.secret
        if done.problems:
            self.problems.extend(done.problems)
        if done.unknown:
            self.unknown.append(key)

    def remember(self, memo_key: tuple[Any, ...], value: Any) -> None:
        if len(self.memo) >= _MEMO_SIZE:
            self.memo.clear()
        self.memo[memo_key] = value

    def read_uncached(self, key: str, content: bytes) -> None:
        spec = self.reg.by_key.get(key)
        path = spec.path if spec is not None else None
        if len(content) > MAX_VALUE_BYTES:
            self.problem(key, path, f"{key} is larger than 1 MiB, the most a ConfigMap can hold")
            return
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            self.problem(key, path, f"{key} is not valid UTF-8 text")
            return
        if spec is None:
            if key.startswith(FLAG_PREFIX):
                self.flag(key, text)
            else:
                self.unknown.append(key)
            return
        if spec.secret:
            # Exact bytes: a Secret's value is what it is, trailing newline included.
            self.secrets[key] = text
            self.entries[spec.path] = Entry(SecretRef("file", str(key_location(self.origin, key))), None)
            return
        text = text.removesuffix("\n").removesuffix("\r")  # a person's editor adds one
        if spec.meta.derived:
            if spec.path == "application.environment" and text != self.tier.value:
                self.problem(
                    key,
                    spec.path,
                    f"this configuration is for the {text!r} tier but the runtime was started for "
                    f"{self.tier.value!r}; mount the {self.tier.value} volume or change environment=",
                )
            return
        parsed = self.parse(key, content, text, spec.type)
        if isinstance(parsed, ConversionError):
            self.problem(key, spec.path, f"{key} ({spec.path}): {parsed}")
        else:
            self.entries[spec.path] = Entry(parsed, None)

    def parse(self, key: str, content: bytes, text: str, leaf: LeafType) -> Any:
        """The typed value of ``text`` (or the ConversionError), memoised by content."""
        memo_key = (key, content)
        parsed = self.memo.get(memo_key, _MISSING)
        if parsed is _MISSING:
            try:
                parsed = parse_rendered(text, leaf)
            except ConversionError as exc:
                parsed = exc
            self.remember(memo_key, parsed)
        return parsed

    def flag(self, key: str, text: str) -> None:
        name = key[len(FLAG_PREFIX) :].lower()
        path = f"flags.{name}"
        if not FLAG_NAME.match(name):
            self.problem(key, path, f"{key}: flag name {name!r} must be lower_snake_case")
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self.problem(key, path, f"{key}: not valid JSON ({exc.msg} at line {exc.lineno})")
            return
        if not isinstance(data, dict):
            self.problem(key, path, f"{key}: a flag is a JSON object, found {type(data).__name__}")
            return
        self.entries[path] = Entry(True, None)
        fields = self.reg.flag_fields
        for field_name, value in data.items():
            spec = fields.get(field_name)
            if spec is None:
                self.problem(key, path, f"{key}: unknown flag field {field_name!r}")
                continue
            try:
                self.entries[f"{path}.{field_name}"] = Entry(_json_value(value, spec), None)
            except ConversionError as exc:
                self.problem(key, f"{path}.{field_name}", f"{key}: {field_name}: {exc}")


#: Rules whose findings depend on the config tree, which a running service does not have
#: (the list of tenant files, tierconf.yaml's silences): the CLI runs them at release time.
TREE_ONLY_RULES = frozenset({"FLAG-UNKNOWN-TENANT", "RULE-SILENCE-UNKNOWN"})


@dataclass(frozen=True)
class BuildTarget:
    """What a source must be validated as.

    Attributes:
        tier: The tier the service runs in (the source's ENVIRONMENT must match).
        tenant: The tenant, if the service runs for one (rules see it).
        rules: Run the rule engine (``tierconf.rules``) as ``validate`` does; its errors
            reject an update, its warnings are logged.
        silences: Reviewed rule exceptions, as in ``tierconf.yaml``.
        checks: Further checks of your own, run after the rules.
    """

    tier: EnvironmentTier
    tenant: str | None = None
    rules: bool = True
    silences: tuple[Silence, ...] = ()
    checks: tuple[Check, ...] = ()


def _rule_findings(
    resolved: ResolvedConfig, target: BuildTarget, secrets: Mapping[str, str]
) -> list[Finding]:
    from tierconf.rules import run_rules

    findings = run_rules(resolved, target.silences, secrets=secrets)
    return [f for f in findings if f.code not in TREE_ONLY_RULES]


def build_state(
    files: Mapping[str, bytes],
    origin: str,
    target: BuildTarget,
    *,
    revision: str | None = None,
    now: float = 0.0,
    checksum: str | None = None,
    memo: ParseMemo | None = None,
) -> LiveState:
    """Parse, merge, validate and check one read of a source.

    ``checksum`` may be passed when the caller has computed it (:func:`checksum_of`);
    ``memo`` keeps parsed values between calls (see :data:`ParseMemo`).

    Raises:
        InvalidConfigurationError: every problem found; messages never hold secret values.
    """
    reg = registry()
    reader = _Reader(origin, target.tier, reg, memo if memo is not None else {})
    for key in sorted(files):
        reader.read(key, files[key])
    layer = Layer.prebuilt("values", origin, origin, reader.entries, reader.layered)
    tree = _SourceTree(root=Path(origin), display_root=origin, project=ProjectSpec())
    request = ConfigRequest(target.tier, extra_layers=(layer,))
    try:
        resolved = resolve_config(tree, request)
    except InvalidConfigurationError as exc:
        raise InvalidConfigurationError((*reader.problems, *exc.problems)) from None
    if reader.problems:
        raise InvalidConfigurationError(tuple(reader.problems))
    if target.tenant is not None:
        resolved = replace(resolved, request=replace(request, tenant=target.tenant))
    findings: list[Finding] = list(resolved.warnings)
    if target.rules:
        findings.extend(_rule_findings(resolved, target, reader.secrets))
    for check in target.checks:
        findings.extend(check(resolved))
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise InvalidConfigurationError(
            tuple(
                SchemaError(
                    f"[{f.code}] {f.message}",
                    location=key_location(origin, f.key) if f.key else None,
                    path=f.path,
                )
                for f in errors
            )
        )
    if checksum is None:
        checksum = checksum_of(files, (key for key in files if key in reg.by_key and reg.by_key[key].secret))
    secrets = LiveSecrets(reader.secrets)
    return LiveState(
        config=resolved.config,
        revision=revision or checksum.removeprefix("sha256:")[:12],
        checksum=checksum,
        origin=origin,
        applied_at=now,
        secrets=secrets,
        secret_fingerprints=secrets.fingerprints(),
        flags=FlagEvaluator(resolved.config.flags),
        keys=frozenset(files),
        warnings=tuple(findings),
        unknown_keys=tuple(reader.unknown),
    )


@dataclass(eq=False)
class _Build:
    """One build of :class:`SharedBuilds`: its inputs, and its state once done."""

    files: Mapping[str, bytes]
    origin: str
    target: BuildTarget
    revision: str | None
    checksum: str
    done: threading.Event = field(default_factory=threading.Event)
    state: LiveState | None = None

    def matches(
        self,
        files: Mapping[str, bytes],
        origin: str,
        target: BuildTarget,
        revision: str | None,
        checksum: str,
    ) -> bool:
        # The checksum (secrets fingerprinted) rules most out cheaply; the exact comparison
        # of every KEY's bytes, secrets included, decides (the same read-only mapping, as a
        # shared etcd stream hands every runtime, is the same content).
        return (
            self.checksum == checksum
            and self.revision == revision
            and self.origin == origin
            and self.target == target
            and ((self.files is files and _read_only(files)) or self.files == files)
        )


class SharedBuilds:
    """The states built last in this process, so runtimes that read the same release
    validate it once.

    Several :class:`~tierconf.runtime.LiveConfig` of one scope in a process (one per
    worker thread, library or tenant handler) receive identical content at the same
    moment; ``build_state`` is a pure function of (content, origin, target), so the
    first caller builds and the others wait for its result. A build that fails is not
    shared: each caller validates and reports it itself. Checks of your own
    (``BuildTarget.checks``) must be pure functions of the configuration, as rules are.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._builds: list[_Build] = []

    def forget(self) -> None:
        """Drop every build and take a new lock (in a forked child: no thread of the child
        would finish a build its parent had in flight, or release a lock held at fork)."""
        self._lock = threading.Lock()
        self._builds = []

    def checksum(self, files: Mapping[str, bytes], secret_keys: Iterable[str]) -> str:
        """:func:`checksum_of` ``files``; the same mapping object handed to many runtimes
        (a shared etcd stream delivers one per release) is hashed once."""
        if _read_only(files):
            with self._lock:
                for build in self._builds:
                    if build.files is files:
                        return build.checksum
        return checksum_of(files, secret_keys)

    def build(
        self,
        files: Mapping[str, bytes],
        origin: str,
        target: BuildTarget,
        *,
        revision: str | None,
        checksum: str,
        memo: ParseMemo | None = None,
    ) -> LiveState:
        """:func:`build_state` of these inputs, built once for every caller that asks for it.

        Raises:
            InvalidConfigurationError: as :func:`build_state`.
        """
        while True:
            mine: _Build | None = None
            try:
                with self._lock:
                    found = next(
                        (b for b in self._builds if b.matches(files, origin, target, revision, checksum)),
                        None,
                    )
                    if found is None:
                        # A mapping the caller may change later is kept as a copy.
                        kept = files if _read_only(files) else dict(files)
                        mine = _Build(kept, origin, target, revision, checksum)
                        self._builds.append(mine)
                        if len(self._builds) > self._size:
                            self._builds.pop(0)
                if mine is not None:
                    mine.state = build_state(
                        mine.files, origin, target, revision=revision, checksum=checksum, memo=memo
                    )
                    return mine.state
            except BaseException:
                if mine is not None:  # failures are not shared: waiters build for themselves
                    with self._lock:
                        if mine in self._builds:
                            self._builds.remove(mine)
                raise
            finally:
                if mine is not None:
                    mine.done.set()  # whatever happened, nobody waits for it forever
            assert found is not None  # either this caller built (and returned) or it found one
            found.done.wait()
            if found.state is not None:
                return found.state
            # It failed for its builder: build (and report) it here too, unless another
            # caller already started doing so.
            with self._lock:
                if found in self._builds:
                    self._builds.remove(found)


def _read_only(files: Mapping[str, bytes]) -> bool:
    return type(files) is MappingProxyType


#: The process's shared builds (what every LiveConfig uses).
shared_builds = SharedBuilds()
os.register_at_fork(after_in_child=shared_builds.forget)
