"""wsgiscope inside the framework CLIs users already type.

- :mod:`wsgiscope.contrib.flask`: ``flask scope ...`` (the ``flask.commands``
  entry point), the app loaded by Flask's own ``ScriptInfo``;
- :mod:`wsgiscope.contrib.django`: ``python manage.py wsgiscope ...`` (add
  ``"wsgiscope.contrib.django"`` to ``INSTALLED_APPS``), the project's
  settings and ``WSGI_APPLICATION``.

Both are thin: the same commands, options and output as ``wsgiscope``.
"""
