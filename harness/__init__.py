"""The conformance harness: step definitions and a driver that speaks
only the public interface of INTERFACE.md, so that the Gherkin features of
``features/`` run against the embedded simulator or any ``--target`` URL.

Nothing here yet; the package exists so the project's layout and type checks
are in place for it.
"""
