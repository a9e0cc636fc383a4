"""In-memory twins of tierconf's boundaries, for tests of the core (no server, no disk).

Each boundary Protocol has one twin here that passes the same contract tests as the real
implementations::

    RevisionStore   ->  InMemoryRevisionStore   (also ``open_store("memory://")``)
    DeployTarget    ->  InMemoryTarget
    Watcher         ->  InMemoryWatcher         (``LiveConfig(InMemoryWatcher({...}), environment=...)``)
    LiveSource      ->  InMemoryLiveConfig      (what the config-driven clients consume)
"""

from tierconf.integrations._live import InMemoryLiveConfig
from tierconf.runtime._memory import InMemoryWatcher
from tierconf.store import InMemoryRevisionStore
from tierconf.targets._memory import InMemoryTarget

__all__ = ["InMemoryLiveConfig", "InMemoryRevisionStore", "InMemoryTarget", "InMemoryWatcher"]
