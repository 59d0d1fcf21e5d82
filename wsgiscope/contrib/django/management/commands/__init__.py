"""The ``wsgiscope`` management command."""
