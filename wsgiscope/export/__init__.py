"""``wsgiscope export``: trace records turned into other tools' formats.

This package owns reading ``wsgiscope.trace/1`` records for export
(:func:`read_records`: files or ``-`` for stdin, line by line, so memory
stays bounded by the largest record) and the registry of formats
(:data:`FORMATS`). Each format is one module with a ``write(records, out,
options)`` function that streams its output to a text file and returns how
many records it wrote:

==========  ================================================================
``har``     HAR 1.2 (:mod:`wsgiscope.export.har`)
``curl``    one curl command per record (:mod:`wsgiscope.export.shell`)
``httpie``  one HTTPie command per record (:mod:`wsgiscope.export.shell`)
``chrome``  Chrome trace-event JSON for Perfetto (:mod:`wsgiscope.export.chrome`)
``pytest``  a test module for the framework's test client (:mod:`wsgiscope.export.pytest`)
``otlp``    OpenTelemetry spans (:mod:`wsgiscope.export.otlp`)
==========  ================================================================

Nothing here prints: bad lines go to the ``warn`` callback.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import typing as t

from wsgiscope.errors import SourceError

if t.TYPE_CHECKING:
    from wsgiscope.tailing import BadLine

#: Format name -> ``module:function`` of its writer.
FORMATS: dict[str, str] = {
    "har": "wsgiscope.export.har:write",
    "curl": "wsgiscope.export.shell:write_curl",
    "httpie": "wsgiscope.export.shell:write_httpie",
    "chrome": "wsgiscope.export.chrome:write",
    "pytest": "wsgiscope.export.pytest:write",
    "otlp": "wsgiscope.export.otlp:write",
}

Record = dict[str, t.Any]


@dataclasses.dataclass
class ExportOptions:
    """What a format may need besides the records.

    :param base_url: ``curl``/``httpie``: where the commands send the
        requests (``None``: each record's own scheme and host).
    :param app: ``pytest``: the import path of the app the tests load.
    :param endpoint: ``otlp``: the OTLP/HTTP endpoint (without ``-o``).
    :param framework: ``pytest``: the framework detected in ``app``.
    """

    base_url: str | None = None
    app: str | None = None
    endpoint: str = "http://localhost:4318"
    framework: str | None = None


Writer = t.Callable[[t.Iterable[Record], t.TextIO, ExportOptions], int]


def writer(name: str) -> Writer:
    """The writer function of format ``name``."""
    module_name, _, attribute = FORMATS[name].partition(":")
    return t.cast(Writer, getattr(importlib.import_module(module_name), attribute))


def read_records(
    sources: t.Sequence[str],
    match: t.Callable[[t.Mapping[str, t.Any]], bool] | None = None,
    warn: t.Callable[[str, BadLine], None] | None = None,
) -> t.Iterator[Record]:
    """The records in ``sources`` (paths, ``-`` for stdin), in order, filtered.

    Lines that are not trace records are handed to ``warn(source, bad_line)``
    and skipped.

    :raises SourceError: for a source that cannot be opened or read.
    """
    from wsgiscope.tailing import BadLine, parse_line

    for source in sources:
        for number, line in enumerate(_lines(source), 1):
            item = parse_line(line, number)
            if item is None:
                continue
            if isinstance(item, BadLine):
                if warn is not None:
                    warn(source, item)
                continue
            if match is None or match(item.record):
                yield item.record


def _lines(source: str) -> t.Iterator[bytes]:
    if source == "-":
        yield from sys.stdin.buffer
        return
    try:
        stream = open(source, "rb")  # noqa: SIM115 (closed below, also when abandoned)
    except FileNotFoundError:
        raise SourceError(
            f"trace file not found: {source}",
            hint="give the file written by 'trace --save', 'serve --record' or a sink",
        ) from None
    except IsADirectoryError:
        raise SourceError(f"{source} is a directory, not a trace file") from None
    except OSError as exc:
        raise SourceError(f"cannot read trace file {source}: {exc.strerror or exc}") from None
    with stream:
        try:
            yield from stream
        except OSError as exc:
            raise SourceError(f"cannot read trace file {source}: {exc.strerror or exc}") from None
