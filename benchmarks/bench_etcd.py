"""etcd backend: publish -> watchers swapped, release throughput, and the client choice.

Every number comes from a real single-member etcd on loopback (``tests/servers.py``'s
``EtcdServer``, imported by path), measured in the same run as its floor:

* ``publish -> N watchers``: from ``EtcdTarget.apply`` of a release to the moment all N
  ``LiveConfig.from_etcd`` instances in this process hold it (their subscribers ran).
  Floor: a raw put of one key -> the same number of raw watch streams holding the event.
  All watchers share this process (one GIL, two cores): each one parses and validates
  the whole tier, so "all N" measures N validations in a row; the per-watcher median is
  what one pod sees.
* ``release throughput``: ``EtcdRevisionStore.append`` of a tier-sized release (the
  bundled development tier: ~200 KEYs, content with provenance) and ``EtcdTarget.apply``
  of a one-KEY change to the ~200 published KEYs, back to back. Floor: raw puts.
* ``client``: one linearizable range and one put transaction through our ``EtcdClient``
  (pooled ``http.client`` keep-alive connections, with failover and auth) against the
  clients one would pick for the gateway, etcd3gw (``requests`` underneath) and httpx;
  floor: one bare ``http.client`` connection.

Run alone: ``python benchmarks/bench_etcd.py [--quick]``.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WATCHERS = 50
OURS_CLIENT = "EtcdClient (ours)"
QUICK = (10, 100, 60)
"""Quick sizes: releases fanned out, releases appended/published, client calls per round."""
FULL = (40, 400, 300)


def _servers() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    import servers

    return servers


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _desired(state_dir: Path) -> Any:
    from tierconf.pipeline import ConfigRequest, resolve_config
    from tierconf.render import render
    from tierconf.secrets import SecretOptions, resolve_secrets
    from tierconf.targets import Scope, desired_from_rendered
    from tierconf.tiers import EnvironmentTier
    from tierconf.tree import load_tree

    tree = load_tree()
    resolved = resolve_config(tree, ConfigRequest(EnvironmentTier.DEVELOPMENT))
    secrets = resolve_secrets(resolved, SecretOptions(state_dir=state_dir))
    rendered = render(resolved, secrets)
    scope = Scope(tree.project.app, "development", None, "spotify-ai-agent-dev")
    return desired_from_rendered(rendered, scope), rendered, resolved


def _release(desired: Any, n: int) -> Any:
    manifests = []
    for manifest in desired.manifests:
        copied = copy.deepcopy(dict(manifest))
        data = copied.get("data") or {}
        if "RATE_LIMIT_REQUESTS" in data:
            data["RATE_LIMIT_REQUESTS"] = str(1000 + n)
        manifests.append(copied)
    return replace(desired, manifests=tuple(manifests), revision=n, checksum=f"sha256:bench-{n}")


# -- publish -> watchers -------------------------------------------------------------------


def _fanout(endpoint: str, desired: Any, watchers: int, releases: int, rules: bool) -> dict[str, list[float]]:
    from prometheus_client import CollectorRegistry

    from tierconf.runtime import LiveConfig, RuntimeOptions
    from tierconf.targets import open_target

    prefix = f"/bench-fanout-{time.monotonic_ns()}"
    url = f"etcd://{endpoint.split('://')[1]}?prefix={prefix}"
    target = open_target(url, desired.scope)
    target.apply(target.plan(_release(desired, 1)))
    arrived: dict[int, list[float]] = {}
    done: dict[int, threading.Event] = {}
    lock = threading.Lock()

    def subscriber(old: Any, new: Any) -> None:
        number = new.security.rate_limit.requests - 1000
        now = time.perf_counter()
        with lock:
            arrived.setdefault(number, []).append(now)
            if len(arrived[number]) == watchers:
                done[number].set()

    lives = []
    for _ in range(watchers):
        options = RuntimeOptions(registry=CollectorRegistry(), poll_interval=30, rules=rules)
        live = LiveConfig.from_etcd(url, environment="development", options=options)
        live.subscribe(subscriber, path="security.rate_limit.requests")
        lives.append(live)
    try:
        # 50 ms between releases: measure latency, not queueing.
        return _time_releases(target, desired, releases, (arrived, done, lock), time.perf_counter, 0.05)
    finally:
        for live in lives:
            live.close()
        target.close()


def _pods_fanout(
    endpoint: str, desired: Any, pods: int, releases: int, rules: bool
) -> dict[str, list[float]]:
    """Publish -> every one of ``pods`` processes (one LiveConfig each, as pods are) holds it."""
    import os
    import subprocess

    from tierconf.targets import open_target

    prefix = f"/bench-pods-{time.monotonic_ns()}"
    url = f"etcd://{endpoint.split('://')[1]}?prefix={prefix}"
    target = open_target(url, desired.scope)
    target.apply(target.plan(_release(desired, 1)))
    script = str(Path(__file__).with_name("_etcd_pod.py"))
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    children = [
        subprocess.Popen(
            [sys.executable, script, url, "1" if rules else "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(pods)
    ]
    arrived: dict[int, list[float]] = {}
    done: dict[int, threading.Event] = {}
    lock = threading.Lock()

    def follow(child: Any) -> None:
        for line in child.stdout:
            number, at = line.split()
            with lock:
                times = arrived.setdefault(int(number), [])
                times.append(float(at))
                if len(times) == pods and int(number) in done:
                    done[int(number)].set()

    try:
        for child in children:
            if child.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
                raise RuntimeError("a benchmark pod did not start")
        threads = [threading.Thread(target=follow, args=(c,), daemon=True) for c in children]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        # CLOCK_MONOTONIC: the one clock every process of the machine shares.
        return _time_releases(target, desired, releases, (arrived, done, lock), time.monotonic, 0.1)
    finally:
        for child in children:
            child.stdin.close()  # type: ignore[union-attr]
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.stdout.close()  # type: ignore[union-attr] # the reader threads saw EOF
        target.close()


Arrivals = tuple[dict[int, list[float]], dict[int, threading.Event], threading.Lock]


def _time_releases(
    target: Any, desired: Any, releases: int, arrivals: Arrivals, clock: Callable[[], float], pause: float
) -> dict[str, list[float]]:
    """Publish releases 2.. one by one; for each, from publish to every watcher holding it
    (``arrivals``: times by release number, an event set when all arrived, their lock)."""
    arrived, done, lock = arrivals
    all_held: list[float] = []
    each: list[float] = []
    for n in range(2, releases + 2):
        plan = target.plan(_release(desired, n))
        done[n] = threading.Event()
        start = clock()
        target.apply(plan)
        if not done[n].wait(60):
            raise RuntimeError(f"release {n} did not reach every watcher within 60 s")
        with lock:
            times = list(arrived[n])
        all_held.append(max(times) - start)
        each.extend(t - start for t in times)
        time.sleep(pause)
    return {"all": all_held, "each": each}


def _raw_fanout(endpoint: str, watchers: int, releases: int) -> list[float]:
    from tierconf.etcd import EtcdClient, EtcdConfig
    from tierconf.etcd._client import prefix_end, put

    key = f"/bench-raw-{time.monotonic_ns()}/k".encode()
    client = EtcdClient(EtcdConfig.from_url(f"etcd://{endpoint.split('://')[1]}"))
    start_revision = int(client.status()["header"]["revision"]) + 1
    arrived: dict[str, list[float]] = {}
    done: dict[str, threading.Event] = {}
    lock = threading.Lock()
    streams = [client.watch(key, prefix_end(key), start_revision) for _ in range(watchers)]

    def follow(stream: Any) -> None:
        try:
            for batch in stream:
                now = time.perf_counter()
                for event in batch.events:
                    value = event.kv.value.decode()
                    with lock:
                        arrived.setdefault(value, []).append(now)
                        if len(arrived[value]) == watchers:
                            done[value].set()
        except Exception:  # noqa: BLE001 - the stream ends when the benchmark closes it
            return

    threads = [threading.Thread(target=follow, args=(s,), daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    samples: list[float] = []
    try:
        for n in range(releases):
            value = str(n)
            done[value] = threading.Event()
            start = time.perf_counter()
            client.txn([], [put(key, value.encode())])
            if not done[value].wait(30):
                raise RuntimeError("raw watch fan-out timed out")
            samples.append(max(arrived[value]) - start)
            time.sleep(0.02)
    finally:
        for stream in streams:
            stream.close()
        client.close()
    return samples


def _delivery(endpoint: str, desired: Any, watchers: int, releases: int) -> list[float]:
    """Publish -> every EtcdWatcher holds the complete release (before runtime validation)."""
    from tierconf.etcd import EtcdClient, EtcdConfig, EtcdWatcher
    from tierconf.etcd._keys import AppKeys
    from tierconf.targets import open_target

    prefix = f"/bench-delivery-{time.monotonic_ns()}"
    url = f"etcd://{endpoint.split('://')[1]}?prefix={prefix}"
    target = open_target(url, desired.scope)
    target.apply(target.plan(_release(desired, 1)))
    keys = AppKeys(prefix, desired.scope.app).live("development", None)
    sources = [EtcdWatcher(EtcdClient(EtcdConfig.from_url(url)), keys) for _ in range(watchers)]
    for source in sources:
        source.read()
    arrived: dict[str, list[float]] = {}
    done: dict[str, threading.Event] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def consume(source: Any) -> None:
        while not stop.is_set():
            if source.wait(0.2):
                data = source.read()
                now = time.perf_counter()
                with lock:
                    arrived.setdefault(data.revision, []).append(now)
                    if len(arrived[data.revision]) == watchers and data.revision in done:
                        done[data.revision].set()

    threads = [threading.Thread(target=consume, args=(s,), daemon=True) for s in sources]
    for thread in threads:
        thread.start()
    samples: list[float] = []
    try:
        for n in range(2, releases + 2):
            plan = target.plan(_release(desired, n))
            done[str(n)] = threading.Event()
            start = time.perf_counter()
            target.apply(plan)
            if not done[str(n)].wait(60):
                raise RuntimeError("delivery timed out")
            samples.append(max(arrived[str(n)]) - start)
            time.sleep(0.05)
    finally:
        stop.set()
        for source in sources:
            source.close()
        target.close()
    return samples


# -- throughput ----------------------------------------------------------------------------


def _content(rendered: Any, resolved: Any, n: int) -> Any:
    from tierconf.store import ReleaseContent

    flat = rendered.flat()
    return ReleaseContent(
        tier="development",
        tenant=None,
        checksum=f"sha256:bench-{n}",
        manifests=tuple(rendered.fingerprinted_manifests()),
        values={k: {"value": v, "layer": "base", "file": "base/x.yaml", "line": 1} for k, v in flat.items()},
        findings={"error": 0, "warning": 0, "info": 0},
        author="bench",
        message=f"release {n}",
        git_commit=None,
        tierconf_version="bench",
    )


def _throughput(endpoint: str, desired: Any, rendered: Any, resolved: Any, count: int) -> dict[str, float]:
    from tierconf.etcd import EtcdClient, EtcdConfig
    from tierconf.etcd._client import put
    from tierconf.store import AuditRequest, open_store
    from tierconf.targets import open_target

    prefix = f"/bench-throughput-{time.monotonic_ns()}"
    url = f"etcd://{endpoint.split('://')[1]}?prefix={prefix}"
    store = open_store(url)
    audit = AuditRequest("bench", "release", "throughput")
    contents = [_content(rendered, resolved, n) for n in range(1, count + 1)]
    size = len(contents[0].to_json())
    start = time.perf_counter()
    for n, content in enumerate(contents):
        store.append(content, expected_head=n or None, audit=audit)
    appends = count / (time.perf_counter() - start)
    store.close()

    target = open_target(url, desired.scope)
    target.apply(target.plan(_release(desired, 1)))
    plans = [target.plan(_release(desired, n)) for n in range(2, count + 2)]
    start = time.perf_counter()
    for plan in plans:
        target.apply(plan)
    publishes = count / (time.perf_counter() - start)
    target.close()

    # Both, as `tierconf release` then `tierconf deploy --target etcd://` do: record, publish.
    both_url = f"etcd://{endpoint.split('://')[1]}?prefix={prefix}-both"
    store, target = open_store(both_url), open_target(both_url, desired.scope)
    target.apply(target.plan(_release(desired, 1)))
    start = time.perf_counter()
    for n, (content, plan) in enumerate(zip(contents, plans, strict=True)):
        store.append(content, expected_head=n or None, audit=audit)
        target.apply(plan)
    both = count / (time.perf_counter() - start)
    store.close()
    target.close()

    client = EtcdClient(EtcdConfig.from_url(url))
    key = f"{prefix}/raw".encode()
    value = b"x" * 4000
    start = time.perf_counter()
    for _ in range(count):
        client.txn([], [put(key, value)])
    raw = count / (time.perf_counter() - start)
    client.close()
    return {
        "appends": appends,
        "publishes": publishes,
        "both": both,
        "raw": raw,
        "content_bytes": float(size),
    }


# -- client comparison ---------------------------------------------------------------------


def _clients(endpoint: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Our EtcdClient against the clients one would pick for the JSON gateway (those that
    are installed: ``python -m benchmarks`` installs them) and a bare connection."""
    from tierconf.etcd import EtcdClient, EtcdConfig
    from tierconf.etcd._client import put

    host, port = endpoint.split("://")[1].rsplit(":", 1)
    key = f"/bench-client-{time.monotonic_ns()}".encode()
    ours = EtcdClient(EtcdConfig.from_url(f"etcd://{host}:{port}"))
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    range_body = json.dumps({"key": base64.b64encode(key).decode()})
    put_body = json.dumps({"compare": [], "success": [put(key, b"v" * 100)]})
    closers: list[Callable[[], object]] = [ours.close, conn.close]

    def raw(path: str, body: str) -> None:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        json.loads(conn.getresponse().read())

    contenders: dict[str, dict[str, Callable[[], object]]] = {
        "range": {
            OURS_CLIENT: lambda: ours.range(key),
            "http.client": lambda: raw("/v3/kv/range", range_body),
        },
        "put txn": {
            OURS_CLIENT: lambda: ours.txn([], [put(key, b"v" * 100)]),
            "http.client": lambda: raw("/v3/kv/txn", put_body),
        },
    }
    try:
        from etcd3gw.client import Etcd3Client

        gw = Etcd3Client(host=host, port=int(port), api_path="/v3/")  # as shipped: requests' defaults
        range_json, put_json = json.loads(range_body), json.loads(put_body)
        contenders["range"]["etcd3gw"] = lambda: gw.post(gw.get_url("/kv/range"), json=range_json)
        contenders["put txn"]["etcd3gw"] = lambda: gw.post(gw.get_url("/kv/txn"), json=put_json)
        closers.append(gw.session.close)
    except ImportError:
        pass
    try:
        import httpx

        hx = httpx.Client(base_url=endpoint, timeout=5)
        contenders["range"]["httpx"] = lambda: hx.post("/v3/kv/range", content=range_body).json()
        contenders["put txn"]["httpx"] = lambda: hx.post("/v3/kv/txn", content=put_body).json()
        closers.append(hx.close)
    except ImportError:
        pass
    out: dict[str, dict[str, list[float]]] = {}
    for operation, calls in contenders.items():
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for call in calls.values():
            call()
        for _ in range(rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - start)
        out[operation] = samples
    for close in closers:
        close()
    return out


# -- the runner's entry point --------------------------------------------------------------


def _fanout_row(name: str, fan: dict[str, list[float]], floor: list[float], where: str) -> dict[str, Any]:
    """A fan-out row: p50 of "all hold it", its p99 against the goal, per-watcher spread."""
    p99 = _percentile(fan["all"], 99) * 1e3
    return {
        "name": name,
        "ours_median": statistics.median(fan["all"]) * 1e3,
        "floor_median": statistics.median(floor) * 1e3,
        "unit": "ms",
        "notes": (
            f"p99 {p99:.1f} ms (floor p99 {_percentile(floor, 99) * 1e3:.1f} ms); per watcher "
            f"p50 {statistics.median(fan['each']) * 1e3:.1f} ms, p99 "
            f"{_percentile(fan['each'], 99) * 1e3:.1f} ms; {len(fan['all'])} releases; {where}"
        ),
        "goals": [{"goal": "p99 <= 50 ms", "measured": f"{p99:.1f} ms", "met": p99 <= 50}],
        "samples": {"ours": [x * 1e3 for x in fan["all"]], "floor": [x * 1e3 for x in floor]},
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows for the benchmark report (shape in ``benchmarks/__init__.py``)."""
    servers = _servers()
    watchers = WATCHERS
    releases, count, client_rounds = QUICK if quick else FULL
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = servers.EtcdServer.start(Path(tmp) / "etcd")
        try:
            desired, rendered, resolved = _desired(Path(tmp) / "state")
            floor = _raw_fanout(server.endpoint, watchers, releases)
            delivered = _delivery(server.endpoint, desired, watchers, releases)
            rows.append({
                "name": f"publish -> {watchers} EtcdWatchers hold the complete release (p50)",
                "ours_median": statistics.median(delivered) * 1e3,
                "floor_median": statistics.median(floor) * 1e3,
                "unit": "ms",
                "notes": (
                    f"p99 {_percentile(delivered, 99) * 1e3:.1f} ms: the etcd layer alone (watch, mirror, "
                    "manifest check), before LiveConfig parses and validates"
                ),
            })
            for rules in (True, False):
                label = "" if rules else ", rules=False"
                fan = _fanout(server.endpoint, desired, watchers, releases, rules)
                name = f"publish -> {watchers} watchers all hold it (p50{label})"
                rows.append(_fanout_row(name, fan, floor, "all watchers in one process"))
            for rules in (True, False):
                label = "" if rules else ", rules=False"
                fan = _pods_fanout(server.endpoint, desired, watchers, releases, rules)
                where = f"{watchers} processes share 2 cores: each release costs {watchers} rebuilds of CPU"
                name = f"publish -> {watchers} pods (one process each) all hold it (p50{label})"
                rows.append(_fanout_row(name, fan, floor, where))
            rates = _throughput(server.endpoint, desired, rendered, resolved, count)
            rows.append({
                "name": "release throughput: EtcdRevisionStore.append (tier-sized)",
                "ours_median": rates["appends"],
                "floor_median": rates["raw"],
                "unit": "releases/s",
                "notes": (
                    f"{count} appends back to back, one client; content "
                    f"{rates['content_bytes'] / 1024:.0f} KiB (~200 KEYs with provenance); "
                    "floor = raw 4 KB puts"
                ),
                "goals": [{"goal": ">= 200 releases/s", "measured": f"{rates['appends']:.0f}/s",
                           "met": rates["appends"] >= 200}],
            })
            rows.append({
                "name": "publish throughput: EtcdTarget.apply (one KEY changed of ~200)",
                "ours_median": rates["publishes"],
                "floor_median": rates["raw"],
                "unit": "publishes/s",
                "notes": (
                    f"{count} publishes back to back (one transaction each: the target keeps what "
                    "it wrote, the compares guard it)"
                ),
            })
            rows.append({
                "name": "release + publish: append then EtcdTarget.apply, per release",
                "ours_median": rates["both"],
                "floor_median": rates["raw"] / 2,
                "unit": "releases/s",
                "notes": (
                    f"{count} releases recorded and published back to back (two transactions each, "
                    "as `tierconf release` then `tierconf deploy --target etcd://`); floor = raw 4 KB "
                    "puts / 2"
                ),
            })
            clients = _clients(server.endpoint, client_rounds)
            for operation, samples in clients.items():
                medians = {name: statistics.median(v) * 1e6 for name, v in samples.items()}
                rows.append({
                    "name": f"etcd client: {operation} (JSON gateway)",
                    "ours_median": medians[OURS_CLIENT],
                    "peers": {k: v for k, v in medians.items() if k not in (OURS_CLIENT, "http.client")},
                    "floor_median": medians["http.client"],
                    "unit": "us",
                    "notes": (
                        "median of interleaved calls; ours = EtcdClient (failover, auth, pooled "
                        "http.client keep-alive); floor = one bare http.client connection"
                    ),
                })
        finally:
            server.stop()
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    rows = run(quick)
    print(f"# bench_etcd ({'quick' if quick else 'full'}) {started}")
    for row in rows:
        peers = " ".join(f"{k}={v:.1f}" for k, v in (row.get("peers") or {}).items())
        print(
            f"{row['name']}: ours {row['ours_median']:.1f} {row['unit']}, floor {row['floor_median']:.1f}"
            f"{(' ' + peers) if peers else ''} -- {row['notes']}"
        )


if __name__ == "__main__":
    main()
