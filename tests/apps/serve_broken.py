"""An app module for the serve tests that fails while being imported."""

raise RuntimeError("database unreachable at import time")
