"""``python manage.py wsgiscope routes|trace|replay|lint|...``.

The project's settings are already loaded by ``manage.py``; the app is its
``WSGI_APPLICATION`` (what ``runserver`` serves), and worker processes
(``serve``, ``replay --greenlets/--processes``) import the same object with
the same ``DJANGO_SETTINGS_MODULE``. Arguments go to wsgiscope's own CLI
untouched (Django's argument parser would reject its options), so commands,
options, output and exit codes are those of ``wsgiscope``.
"""

from __future__ import annotations

import os
import typing as t

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "wsgiscope on this project: routes, trace, replay, lint, serve, tail, info..."

    def run_from_argv(self, argv: list[str]) -> None:
        """``manage.py wsgiscope ARGS``: run wsgiscope's CLI (it exits itself)."""
        from wsgiscope.cli import main

        _host_project()
        main(argv[2:], prog_name=f"{os.path.basename(argv[0])} {argv[1]}")

    def add_arguments(self, parser: t.Any) -> None:
        import argparse

        parser.add_argument("args", nargs=argparse.REMAINDER, help="wsgiscope's arguments")

    def handle(self, *args: str, **options: t.Any) -> None:
        """``call_command("wsgiscope", "routes")``: the same, without exiting."""
        from wsgiscope.cli import cli

        _host_project()
        try:
            cli.main(args=list(args), prog_name="manage.py wsgiscope")
        except SystemExit as exc:
            if exc.code:
                raise CommandError(f"wsgiscope exited with status {exc.code}") from None


def _host_project() -> None:
    """Make the project's WSGI application the app wsgiscope's commands use."""
    import sys

    from django.conf import settings

    from wsgiscope import hosting
    from wsgiscope.loading import AppRef, LoadedApp

    dotted = str(getattr(settings, "WSGI_APPLICATION", "") or "")
    module_name, _, attr = dotted.rpartition(".")
    # Without WSGI_APPLICATION, runserver serves get_wsgi_application().
    import_path = (
        f"{module_name}:{attr}" if module_name else "django.core.wsgi:get_wsgi_application()"
    )
    ref = AppRef(import_path, "manage.py (WSGI_APPLICATION)")

    def load() -> LoadedApp:
        from django.core.servers.basehttp import get_internal_wsgi_application

        from wsgiscope.errors import AppLoadError

        try:
            app = get_internal_wsgi_application()
        except Exception as exc:  # ImproperlyConfigured, or the module's own error
            raise AppLoadError(
                f"cannot load WSGI_APPLICATION {dotted or '(not set)'}: {exc}",
                hint="check WSGI_APPLICATION in the project's settings",
            ) from None
        module = sys.modules.get(module_name) or sys.modules["__main__"]
        return LoadedApp(ref, app, module, attr or "get_wsgi_application()")

    hosting.host(ref, load)
