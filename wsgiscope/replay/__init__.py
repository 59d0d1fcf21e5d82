"""Replay requests in-process under threads, greenlets and processes.

The package is split by job: :mod:`~wsgiscope.replay.sources` reads request
sources (JSON Lines traces, HAR files, request lines, the route table) into
:class:`~wsgiscope.replay.sources.ReplayRequest` values;
:mod:`~wsgiscope.replay.plan` says how to run them (mode, workers,
processes, count, duration, rate); :mod:`~wsgiscope.replay.engine` runs the
per-worker loops; :mod:`~wsgiscope.replay.stats` keeps bounded-memory
statistics; :mod:`~wsgiscope.replay.isolation` checks that requests do not
see each other's data; :mod:`~wsgiscope.replay.runner` puts it together and
runs greenlet and multi-process modes in fresh worker processes
(:mod:`~wsgiscope.replay.worker`). Nothing here prints.

Importing this package imports nothing heavy: gevent in particular must only
ever be imported by a worker process after it has monkey-patched.
"""
