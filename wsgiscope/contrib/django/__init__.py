"""``python manage.py wsgiscope ...``: wsgiscope inside a Django project.

Add ``"wsgiscope.contrib.django"`` to ``INSTALLED_APPS``; the management
command (:mod:`.management.commands.wsgiscope`) runs wsgiscope's commands
on the project's ``WSGI_APPLICATION`` with the project's settings.
"""
