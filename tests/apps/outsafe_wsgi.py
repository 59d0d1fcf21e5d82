"""A hostile plain WSGI app: what werkzeug's Headers would refuse, sent raw.

Header names and values with newlines, ESC, C1 and NUL, a status reason
phrase with markup and control characters, a huge header, ``Set-Cookie``,
``Location`` and ``Refresh`` with a token in the query, a body with the
payload, and output on ``wsgi.errors``. It breaks PEP 3333 on purpose so
``lint`` quotes the header values in its findings.
"""

from outsafe_flask import EVIL, FORGE, LONG, SECRET


def application(environ, start_response):
    """Answer every request with hostile headers and body."""
    errors = environ["wsgi.errors"]
    errors.write("wsgi.errors " + EVIL + "\n" + FORGE + "\n" + LONG + "\n")
    if environ.get("PATH_INFO") == "/crash":
        raise ValueError("crash " + EVIL + "\n" + FORGE)
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("X-Evil", EVIL),
        ("X-Forge", FORGE),
        ("X-Long", LONG),
        ("X-Evil-[b]Name[/b]\x1b[31m", "v"),
        ("Set-Cookie", f"session={SECRET}; HttpOnly"),
        ("Location", f"/x?token={SECRET}&a=1"),
        ("Refresh", f"0; url=/y?access_token={SECRET}"),
        ("Content-Location", f"/z?api_key={SECRET}"),
        ("Link", f"</l?token={SECRET}>; rel=next"),
        ("X-Auth-Token", SECRET),
        ("Connection", "close"),
        # secrets in headers lint quotes (control characters, not latin-1)
        ("Set-Cookie", f"sid={SECRET}\x01"),
        ("X-Api-Key", f"{SECRET}\u2603"),
        ("Content-Location", f"/c?password={SECRET}\x1b"),
    ]
    start_response("200 [bold red]R[/]\x1b[2J:smile:\x9b", headers)
    body = (EVIL + "\n" + FORGE + "\n" + LONG).encode("utf-8", "surrogatepass")
    return [body]


class _Evil:
    """A WSGI callable whose repr and class name are hostile (``info`` shows both)."""

    def __call__(self, environ, start_response):
        return application(environ, start_response)

    def __repr__(self):
        return EVIL + FORGE + LONG


_Evil.__qualname__ = _Evil.__name__ = "Evil[bold red]Q[/]\x1b[31m:smile:"
evil = _Evil()
