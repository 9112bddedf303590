"""The shipped scenarios and traffic profiles, installed as ``renkei.scenarios``.

``default.yaml`` is the sandbox bank of ``renkei serve``, ``renkei conform``
and ``renkei certify`` (INTERFACE.md §8); ``load.yaml`` the bank and generated
customers of ``renkei simulate``; ``traffic/*.yaml`` the traffic profiles.
They are read through :mod:`renkei.resources`, never by a path of the checkout.
"""
