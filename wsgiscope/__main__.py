"""``python -m wsgiscope``: the same entry point as the ``wsgiscope`` command."""

from wsgiscope.cli import main

if __name__ == "__main__":
    main()
