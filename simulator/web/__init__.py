"""The web adapter: the sandbox bank over HTTP (INTERFACE.md §1–§6).

Flask with an app factory and one blueprint per part of the interface. It
translates HTTP to calls of :mod:`simulator.core` and back, and keeps state in
:mod:`simulator.store`; it decides no rule of the manual itself.
"""
