"""``replay --locust-file``: a ready locustfile for the same app and sources.

The file subclasses :class:`wsgiscope.locust.WsgiUser` with the app's import
path, the directory it is resolved from and the source files (absolute
paths): ``locust -f FILE`` runs the same replay on Locust, on one machine
or as ``--master`` plus ``--worker`` processes on several (each needs the
project and the sources at the same paths).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TEMPLATE = '''\
"""Replay {title} on Locust (written by wsgiscope {version}).

    locust -f {file} --headless -u 16 -r 16 -t 30s
    locust -f {file} --master                 # then, on each machine:
    locust -f {file} --worker --master-host HOST

Each Locust worker process loads the app, replays the sources in-process
and runs wsgiscope's isolation checks; the master prints their findings and
exits 1 when a request saw another's data. To send the same requests to a
running server instead, change WsgiUser to HttpReplayUser (and the import)
and give --host.
"""

from wsgiscope.locust import WsgiUser


class Replay(WsgiUser):
    app = {app}
    base_dir = {base_dir}
    sources = {sources}
'''


def write_locustfile(
    path: str | os.PathLike[str], app: str, base_dir: Path, sources: list[str]
) -> Path:
    """Write the locustfile; returns its path.

    :raises OSError: when it cannot be written.
    """
    from wsgiscope import __version__

    target = Path(path)
    # JSON strings are Python strings (double-quoted, escaped).
    text = TEMPLATE.format(
        title=app.replace('"', "'"),
        app=json.dumps(app),
        base_dir=json.dumps(str(base_dir.resolve())),
        sources=json.dumps([str(Path(source).resolve()) for source in sources]),
        file=target.name,
        version=__version__,
    )
    target.write_text(text, encoding="utf-8")
    return target
