"""Fixtures every test module may use.

``isolate_imports`` (autouse) puts ``sys.path`` and ``sys.modules`` back as
they were after each test, so apps imported by one test never leak into the
next (Flask's ``test_apps`` fixture does the same). ``no_gevent_patching``
(autouse) fails a test that left gevent's monkey patching in this process:
greenlet tests must run in a subprocess. ``WSGISCOPE_CHECK_SCHEMAS=1`` makes
every ``--json`` output validated against its schema (:mod:`wsgiscope.schemas`);
``json_document`` parses and validates one explicitly.
"""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import pytest

#: pytest's own fixture for running test suites (the plugin's tests use it).
pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
APPS = TESTS / "apps"

# Every --json document the CLI prints during the tests (in this process and
# in the wsgiscope processes tests start, which inherit the environment) is
# validated against the schema its format tag names (wsgiscope/schemas/):
# a document that does not match fails the test that printed it.
os.environ["WSGISCOPE_CHECK_SCHEMAS"] = "1"


@pytest.fixture(autouse=True)
def isolate_imports() -> t.Iterator[None]:
    path = list(sys.path)
    modules = set(sys.modules)
    environ = os.environ.get("DJANGO_SETTINGS_MODULE")
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if _is_app_module(sys.modules.get(name)):
            del sys.modules[name]
    if environ is None:
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)


_KEEP = (sys.prefix, sys.base_prefix, str(Path(__file__).parent.parent / "wsgiscope"))


def _is_app_module(module: object) -> bool:
    """A module the test imported from an app directory (not a library)."""
    file = getattr(module, "__file__", None)
    return bool(file) and not str(file).startswith(_KEEP)


@pytest.fixture(autouse=True)
def no_gevent_patching() -> t.Iterator[None]:
    yield
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.saved:
        pytest.fail("gevent monkey patching leaked into the test process; use a subprocess")


@pytest.fixture
def apps_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from ``tests/apps`` so its modules are importable."""
    monkeypatch.chdir(APPS)
    monkeypatch.delenv("WSGISCOPE_APP", raising=False)
    return APPS


def json_document(text: str) -> t.Any:
    """Parse a ``--json`` output and check it against its format's schema."""
    import json

    from wsgiscope.schemas import validate

    document = json.loads(text)
    validate(document)
    return document
