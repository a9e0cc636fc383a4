"""etcd as tierconf's distributed backend (its v3 JSON gateway, over the standard library).

Three implementations of tierconf's boundaries share one client::

    EtcdClient          _client.py   the v3 JSON gateway: failover, auth, TLS, watch streams
    ├── EtcdRevisionStore  _store.py    RevisionStore      --store etcd://HOST:PORT
    ├── EtcdTarget         _publish.py  DeployTarget       deploy --target etcd://HOST:PORT
    └── EtcdWatcher        _watch.py    runtime Watcher    LiveConfig.from_etcd(URL, ...)

The key layout is in :mod:`tierconf.etcd._keys`, the manifest record that makes a
published release atomic in :mod:`tierconf.etcd._manifest`, and the URL options in
:class:`EtcdConfig`. ``docs/etcd.md`` describes the guarantees and how they are tested.
"""

from ._client import EtcdClient
from ._config import EtcdConfig
from ._keys import AppKeys, LiveKeys
from ._manifest import Manifest
from ._publish import EtcdTarget
from ._store import EtcdRevisionStore
from ._watch import EtcdWatcher, WatcherStats

__all__ = [
    "AppKeys",
    "EtcdClient",
    "EtcdConfig",
    "EtcdRevisionStore",
    "EtcdTarget",
    "EtcdWatcher",
    "LiveKeys",
    "Manifest",
    "WatcherStats",
]
