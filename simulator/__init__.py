"""renkei: a simulated credit-union host and its 「API連携認証」 flow.

The pure rules of the manual live in :mod:`simulator.core`; everything else in
this package (scenario loading, the bulk population, the command line, and the
adapters of later issues) calls them.
"""

__version__ = "0.1.0"
