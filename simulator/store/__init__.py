"""The SQL store: the host's data, locks, flows, grants and logs in a real database.

SQLAlchemy 2 Core over SQLite by default and any SQLAlchemy URL (PostgreSQL)
by configuration. It implements the core's ports (``HostDirectory``,
``LockLedger``) and keeps what several server processes must share; it adds
no rule of the manual. Every row belongs to one sandbox (INTERFACE.md §9): each
store object is built for one (``sandbox=``, the root's by default) and sees
only its rows; simulator.store.sandboxes keeps the other sandboxes' records.
"""
