"""The domain core: every rule of the 「API連携認証」 screen manual, once.

Pure: no I/O, no web, SQL, SimPy, SMTP or HTTP imports (``tests/test_core_purity.py``
keeps it so), time only from an injected :class:`~simulator.core.clock.Clock`,
randomness only from an injected :class:`random.Random`.
"""
