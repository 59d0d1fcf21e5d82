"""Values a hostile (or just buggy) app hands to the server, for the tests
that prove wsgiscope survives them: str subclasses whose own methods raise,
objects whose ``repr``, ``str``, ``len``, ``bool``, ``==`` and ``hash`` raise,
bodies whose ``len()`` or iteration raises, and a hypothesis strategy mixing
them with ordinary values."""

from __future__ import annotations

import typing as t

from hypothesis import strategies as st


def _boom(*args: t.Any, **kwargs: t.Any) -> t.Any:
    raise RuntimeError("boom from the app")


class PlainSubclass(str):
    """A harmless str subclass (still not the native str PEP 3333 asks for)."""


class HostileStr(str):
    """A str subclass whose every overridable method raises."""

    __str__ = __repr__ = __format__ = _boom
    __eq__ = __ne__ = __lt__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    __len__ = __iter__ = __getitem__ = __contains__ = _boom
    lower = upper = encode = startswith = endswith = isdigit = isascii = split = _boom
    strip = replace = decode = __add__ = _boom


class HostileBytes(bytes):
    """A bytes subclass whose Python-level methods raise."""

    __repr__ = __str__ = __len__ = __iter__ = __getitem__ = __eq__ = _boom
    __hash__ = _boom  # type: ignore[assignment]
    decode = startswith = _boom


class Boom:
    """An object whose every special method raises."""

    __repr__ = __str__ = __len__ = __bool__ = __iter__ = __getitem__ = _boom
    __eq__ = __ne__ = _boom
    __hash__ = _boom  # type: ignore[assignment]


class BadLenList(list):  # type: ignore[type-arg]
    """A body whose ``len()`` raises (servers call it for Content-Length)."""

    def __len__(self) -> int:
        raise ValueError("len boom")


class BadIter:
    """A body whose ``iter()`` raises, with a ``close()`` that raises too."""

    __iter__ = close = _boom


def hostile_values() -> st.SearchStrategy[t.Any]:
    """Ordinary and hostile values for a status, a header part or a chunk."""
    text = st.text(max_size=12)
    return st.one_of(
        st.none(),
        st.integers(-5, 700),
        text,
        st.binary(max_size=12),
        text.map(PlainSubclass),
        text.map(HostileStr),
        st.binary(max_size=12).map(HostileBytes),
        st.builds(Boom),
        st.sampled_from(["200 OK", "404 Not Found", "500 Oops", "204 No Content"]),
    )


def hostile_headers() -> st.SearchStrategy[t.Any]:
    """Header lists (good and bad items) and things that are no list at all."""
    value = hostile_values()
    item = st.one_of(st.tuples(value, value), value, st.lists(value, max_size=3))
    return st.one_of(
        value,
        st.lists(item, max_size=4),
        st.just([("Content-Type", "text/plain")]),
        st.lists(item, max_size=3).map(iter),
    )


def hostile_exc_info() -> st.SearchStrategy[t.Any]:
    """What an app may pass as start_response's third argument."""
    value = hostile_values()
    return st.one_of(
        st.none(),
        st.just((None, None, None)),
        st.tuples(value, value, value),
        st.just((ValueError, ValueError("caught"), None)),
        value,
    )


def hostile_bodies() -> st.SearchStrategy[t.Any]:
    """Body iterables: lists of odd chunks, a raising len() or iter(), non-iterables."""
    chunks = st.lists(hostile_values(), max_size=4)
    return st.one_of(
        chunks,
        chunks.map(BadLenList),
        chunks.map(tuple),
        st.builds(BadIter),
        hostile_values(),
    )


def make_app(
    status: t.Any, headers: t.Any, exc_info: t.Any, body: t.Any, twice: bool
) -> t.Callable[..., t.Any]:
    """A WSGI app calling start_response with these values (twice, the second
    time with ``exc_info``, when asked) and returning ``body``."""

    def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> t.Any:
        if twice:
            start_response("200 OK", [("Content-Type", "text/plain")])
            start_response(status, headers, exc_info)
        elif exc_info is None:
            start_response(status, headers)
        else:
            start_response(status, headers, exc_info)
        return body

    return app
