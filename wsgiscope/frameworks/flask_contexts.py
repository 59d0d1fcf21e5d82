"""Flask's context state, read the same way on every Flask version.

What the tracer and the isolation checks read from a running request
(the current request context, its session) without the route adapter
(:mod:`wsgiscope.frameworks.flask`) and its imports: ``trace`` and
``serve`` instrument every request but never ask the routing.
Flask is imported only inside these functions.
"""

from __future__ import annotations

import typing as t


def request_context_getter() -> t.Callable[[], t.Any]:
    """A function returning the current context that carries a request (or ``None``).

    Flask 3.0/3.1 keep the request context in ``_cv_request``; Flask 3.2
    merged it into the app context (``_cv_app``, ``has_request``).
    """
    from flask import globals as flask_globals

    cv_request = vars(flask_globals).get("_cv_request")
    if cv_request is not None:
        return lambda: cv_request.get(None)
    cv_app = flask_globals._cv_app

    def merged() -> t.Any:
        ctx: t.Any = cv_app.get(None)
        return ctx if ctx is not None and ctx.has_request else None

    return merged


def session_of(ctx: t.Any) -> t.Any:
    """A Flask request context's session object (``None`` before it is opened),
    read without marking it accessed (which would add ``Vary: Cookie``).

    Flask 3.1.3 on keeps it in ``_session`` behind a property that sets
    ``accessed``; Flask 3.0 to 3.1.2 in the plain ``session`` attribute.
    """
    state = vars(ctx)
    return state["_session"] if "_session" in state else state.get("session")
