"""``renkei certify``: put one partner app through every situation of the manual and
judge how it behaves (issue 8).

The conformance harness judges a bank; this judges an app. :mod:`.plan` is the
certification plan (situations and their checks, each tied to a requirement of
REQUIREMENTS.md or an RFC clause); :mod:`.proxy` is the recording reverse proxy
the app is pointed at; :mod:`.runner` steps through the plan, steering the
sandbox through its controls (INTERFACE.md §6); :mod:`.judge` decides every
check from the recorded requests; :mod:`.certificate` writes the JSON and HTML
certificate; :mod:`.reference` holds a well-behaved and a misbehaving app that
play the plan in the tests; :mod:`.command` is the command line. Nothing here
imports ``simulator``: certify speaks to the bank over HTTP only, and reads the
scenario file as data.
"""
