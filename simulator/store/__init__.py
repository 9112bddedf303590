"""The SQL store: the host's data, locks, flows, grants and logs in a real database.

SQLAlchemy 2 Core over SQLite by default and any SQLAlchemy URL (PostgreSQL)
by configuration. It implements the core's ports (``HostDirectory``,
``LockLedger``) and keeps what several server processes must share; it adds
no rule of the manual.
"""
