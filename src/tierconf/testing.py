"""In-memory twins of tierconf's boundaries, for tests of the core (no server, no disk).

Each boundary Protocol has one twin here that passes the same contract tests as the real
implementations::

    RevisionStore  ->  InMemoryRevisionStore   (also ``open_store("memory://")``)
"""

from tierconf.store import InMemoryRevisionStore

__all__ = ["InMemoryRevisionStore"]
