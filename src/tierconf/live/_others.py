"""MongoDB and ElasticSearch: reachability only (a client ping when one is installed)."""

from __future__ import annotations

import importlib.util
from typing import Any

from tierconf.live._net import ProbeResult, tcp_problem
from tierconf.rules import RuleHit


def probe_mongo(host: str, port: int, tls: bool, timeout: float) -> ProbeResult:
    """TCP, then ``ping`` through pymongo if it is installed."""
    result = ProbeResult()
    where = f"{host}:{port}"
    problem = tcp_problem(host, port, timeout)
    if problem is None and importlib.util.find_spec("pymongo") is not None:
        import pymongo  # type: ignore[import-not-found, unused-ignore]

        client: Any = pymongo.MongoClient(
            host=host, port=port, tls=tls, serverSelectionTimeoutMS=int(timeout * 1000), connect=False
        )
        try:
            client.admin.command("ping")
        except pymongo.errors.PyMongoError as exc:
            problem = f"the port is open but no MongoDB answered ({type(exc).__name__})"
        finally:
            client.close()
    if problem is not None:
        result.add(
            "LIVE-MONGO-UNREACHABLE",
            RuleHit("database.mongodb.host", f"MongoDB at {where} is unreachable: {problem}"),
        )
    return result


def probe_elasticsearch(host: str, port: int, scheme: str, timeout: float) -> ProbeResult:
    """TCP, then a client ping if the ``elasticsearch`` package is installed."""
    result = ProbeResult()
    where = f"{scheme}://{host}:{port}"
    problem = tcp_problem(host, port, timeout)
    if problem is None and importlib.util.find_spec("elasticsearch") is not None:
        import elasticsearch  # type: ignore[import-not-found, unused-ignore]

        client: Any = elasticsearch.Elasticsearch(f"{scheme}://{host}:{port}", request_timeout=timeout)
        try:
            client.info()
        except elasticsearch.AuthenticationException:
            problem = None  # it answered: reachable (credentials are not checked here)
        except Exception as exc:  # noqa: BLE001 - any client failure is reported as unreachable
            problem = f"the port is open but no cluster answered ({type(exc).__name__})"
        finally:
            client.close()
    if problem is not None:
        result.add(
            "LIVE-ES-UNREACHABLE",
            RuleHit("database.elasticsearch.host", f"ElasticSearch at {where} is unreachable: {problem}"),
        )
    return result
