"""Reports whether gevent had patched the process before this module was imported."""

import json
import sys

_monkey = sys.modules.get("gevent.monkey")
PATCHED_AT_IMPORT = bool(
    _monkey and _monkey.is_module_patched("socket") and _monkey.is_module_patched("threading")
)


def app(environ, start_response):
    body = json.dumps({"patched_at_import": PATCHED_AT_IMPORT}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
