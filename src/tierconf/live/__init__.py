"""``validate --live``: check the configured data stores for real (extra ``live``).

Connects concurrently, each with a bounded timeout, to the PostgreSQL primary and read
replica and to Redis (psycopg and redis-py, imported lazily); MongoDB and ElasticSearch
get a TCP reachability check (a client ping when pymongo / elasticsearch are installed).
Findings use the ``LIVE-*`` rules and, with the servers' real limits, the capacity rules.
Passwords come from the secret sources and are masked in every message.
"""

from tierconf.live._run import LiveOptions, live_findings

__all__ = ["LiveOptions", "live_findings"]
