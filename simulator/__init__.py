"""The bank: a simulated credit-union host and its 「API連携認証」 flow.

The pure rules of the manual live in :mod:`simulator.core`; everything else in
this package (scenario loading, the bulk population, the sandbox server, the
store and the SimPy twin) calls them. It speaks to its tester only over
INTERFACE.md, whose terms it reads from :mod:`renkei.contract`; it imports
nothing of :mod:`harness`.
"""
