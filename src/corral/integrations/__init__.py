"""Integrations: the doors through which agents reach the guard (hooks, SDK, gateways).

Every door builds its guard with :func:`corral.integrations.guard_factory.make_guard` and turns
what its agent sends into the actions of the contract, so the same action gets the same verdict
whichever way it arrives.
"""
