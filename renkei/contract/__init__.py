"""The public contract between the bank and its tester (INTERFACE.md), as data.

What both sides must agree on is written here once: the screens with their
paths and form fields (:mod:`.screens`), the machine codes with their HTTP
status, OAuth error and what the app may do after them (:mod:`.errors`), the
OAuth parameters (:mod:`.oauth`), the calendar arithmetic of the account API
(:mod:`.dates`), how an answer names its error (:mod:`.answers`) and the
traffic trace between ``renkei simulate`` and ``renkei replay``
(:mod:`.trace`). The package imports neither :mod:`simulator` nor
:mod:`harness`, nor any web, database or SimPy module.
"""
