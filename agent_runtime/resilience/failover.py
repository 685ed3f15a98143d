"""The one route-resolution function, shared by the runtime and the preflight.

A predecessor's preflight probed a different failover set
than its runtime used. Here ``ResilientModel`` and ``probes.preflight`` both call
``resolve_routes``; there is no second copy of the rule.
"""

from __future__ import annotations

from agent_runtime.providers import Route, parse_route


def resolve_routes(primary: str, failover: tuple[str, ...] | list[str] | None) -> list[Route]:
    """The routes a run may reach, in the order they are tried; the primary first.

    - ``failover is None``: the primary provider's default chain
      (``Provider.default_failover`` with ``{model}`` replaced by the primary's model);
    - an explicit sequence: exactly those routes, in order; the primary is skipped
      if listed, and a route listed twice is tried once (at its first place);
    - ``()`` / ``[]``: no failover at all.

    Raises ``ConfigError`` for an unknown provider or a malformed route.
    """
    first = parse_route(primary)
    if failover is None:
        names = [t.format(model=first.model) for t in first.provider.default_failover]
    else:
        names = list(failover)
    routes = [first]
    seen = {first.name}
    for name in names:
        route = parse_route(name)
        if route.name not in seen:
            seen.add(route.name)
            routes.append(route)
    return routes
