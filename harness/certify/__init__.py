"""``renkei certify``: put one partner app through every situation of the manual and
judge how it behaves.

The conformance harness judges a bank; this judges an app. :mod:`.plan` is the
certification plan: its situations, each one object with its setup
(:mod:`.setups`, the sandbox steered through its controls, INTERFACE.md §6),
what the tester is told, and its checks (:mod:`.checks`, each with its judge,
severity, requirements of REQUIREMENTS.md or RFC clauses, and rule);
:mod:`.judge` is how a check is decided from the recorded requests and what
evidence it needs; :mod:`.proxy` is the recording reverse proxy the app is
pointed at; :mod:`.runner` steps through the plan; :mod:`.certificate` writes the JSON and HTML
certificate; :mod:`.reference` holds a well-behaved and a misbehaving app that
play the plan in the tests; :mod:`.command` is the command line. Nothing here
imports ``simulator``: certify speaks to the bank over HTTP only, and reads the
scenario file as data.
"""
