FLASK_APP=notes:create_app
NOTES_GREETING=hello from .flaskenv
