"""The tracing core: what happens inside one request, as events and a record.

- :class:`~wsgiscope.tracing.middleware.TraceMiddleware` wraps any WSGI app
  and produces one ``wsgiscope.trace/1`` record per request;
- :func:`~wsgiscope.tracing.run.run_traced` runs one request in-process
  (the ``trace`` command, replay);
- :mod:`~wsgiscope.tracing.recorder` finds the current request's recorder
  through a ``ContextVar``; :mod:`~wsgiscope.tracing.events` holds the
  frozen event dataclasses;
- :mod:`~wsgiscope.tracing.flask`, :mod:`~wsgiscope.tracing.django` and
  :mod:`~wsgiscope.tracing.dispatch` instrument frameworks while traces run
  (:func:`wsgiscope.tracing.flask.instrumented` adds event listeners);
- :mod:`~wsgiscope.tracing.sinks` writes records (JSON Lines, callables).

Nothing here prints, and no framework is imported unless the app uses it.
"""

from __future__ import annotations

from wsgiscope.tracing.middleware import DEFAULT_MAX_BODY, TraceMiddleware
from wsgiscope.tracing.record import FORMAT
from wsgiscope.tracing.run import TraceResult, run_traced

__all__ = ["DEFAULT_MAX_BODY", "FORMAT", "TraceMiddleware", "TraceResult", "run_traced"]
