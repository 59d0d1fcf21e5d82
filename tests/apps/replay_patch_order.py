"""Fails to import unless gevent patched first and no rich / futures came before.

``wsgiscope replay --greenlets`` must patch before the app, ``concurrent.futures``
and any rich ``Live`` thread are imported (gunicorn issue 3482). ``sys.modules``
keeps import order: gevent's own patching may import ``concurrent.futures``,
but only after ``gevent.monkey``.
"""

import sys

from gevent import monkey

ORDER = list(sys.modules)
PROBLEMS = [name for name in ("rich", "wsgiscope.render") if name in sys.modules]
if "concurrent.futures" in ORDER and ORDER.index("concurrent.futures") < ORDER.index(
    "gevent.monkey"
):
    PROBLEMS.append("concurrent.futures before gevent.monkey")
if not monkey.is_module_patched("threading"):
    PROBLEMS.append("threading not patched")
if PROBLEMS:
    raise RuntimeError("imported in the wrong order: " + ", ".join(PROBLEMS))


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"patched first"]
