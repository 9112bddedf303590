"""The SimPy twin (``renkei simulate``): the server's rules in simulated time.

* :mod:`~simulator.twin.profile` — traffic profiles (``scenarios/traffic/*.yaml``);
* :mod:`~simulator.twin.model` — the environment, the host, the slots, the tallies;
* :mod:`~simulator.twin.journey` — arrivals and each customer's journey;
* :mod:`~simulator.twin.report` — tables, CSV and plots;
* :mod:`~simulator.twin.replications` — N seeds of the day on every core or a cluster,
  each count's mean and 95 % interval (:mod:`~simulator.twin.interval`);
* :mod:`~simulator.twin.command` — the command line.

DESIGN.md "One core, two clocks": the twin runs :mod:`simulator.core` on a
clock that reads SimPy's ``env.now``; it adds behaviour, never a rule.
"""
