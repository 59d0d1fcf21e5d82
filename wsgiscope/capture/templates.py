"""Template capture: each template render of a traced request, as a span.

- Flask (Jinja2): receivers on Flask's ``before_render_template`` and
  ``template_rendered`` signals, connected while tracing and disconnected
  afterwards (``render_template`` and ``render_template_string``; a
  template rendered by calling Jinja2 directly, or streamed with
  ``stream_template``, has no end signal and no duration).
- Django: ``django.template.base.Template.render`` (every engine-level
  render, included templates too).

Each render is an event ``kind="template"`` that *encloses* what happens
while it renders: a lazy-loading query run from inside the template is
placed under it. Fields: ``name`` (the template's name, ``null`` for a
string template), ``engine`` (jinja2, django) and ``duration_ms``.
"""

from __future__ import annotations

import dataclasses
import typing as t

from wsgiscope.capture import captured, quiet
from wsgiscope.redact import Redactor, as_text
from wsgiscope.tracing.events import Event, _fields
from wsgiscope.tracing.recorder import Recorder, _current

if t.TYPE_CHECKING:
    from wsgiscope.tracing.instrument import Patches


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class TemplateRender(Event):
    """A template was rendered."""

    name: str | None
    engine: str
    duration: float | None

    kind: t.ClassVar[str] = "template"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        name, engine, duration = values[:3]
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "name": name,
            "engine": engine,
            "duration_ms": None if duration is None else int(duration * 1e6 + 0.5) / 1000,
        }


def _recording() -> Recorder | None:
    rec = _current.get()
    if rec is None or not rec.keep or "templates" not in rec.capture:
        return None
    return rec


def _name(template: t.Any) -> str | None:
    name = getattr(template, "name", None)
    if name is None:
        origin = getattr(template, "origin", None)
        name = getattr(origin, "template_name", None)
    return None if name is None else as_text(name)


@quiet
def begin(rec: Recorder, name: str | None, engine: str) -> t.Any:
    """Open a render span; returns its row (``None`` over the caps)."""
    if not captured(rec).admit("templates", len(name or "")):
        return None
    values = [name, engine, None]
    return rec.open(TemplateRender, rec.depth, values)


@quiet
def finish(rec: Recorder, row: t.Any) -> None:
    """Close a render span opened by :func:`begin`."""
    row[4][2] = rec.clock() - row[1]
    rec.close_span(row)


@quiet
def _before_render(sender: t.Any, template: t.Any = None, **extra: t.Any) -> None:
    rec = _recording()
    if rec is None:
        return
    row = begin(rec, _name(template), "jinja2")
    if row is not None:
        captured(rec).spans.append((row, template))


@quiet
def _rendered(sender: t.Any, template: t.Any = None, **extra: t.Any) -> None:
    rec = _current.get()
    if rec is None or rec.captured is None:
        return
    spans = rec.captured.spans
    for index in range(len(spans) - 1, -1, -1):
        if spans[index][1] is template:
            row = spans[index][0]
            del spans[index:]
            finish(rec, row)
            return


def install_flask(patches: Patches) -> None:
    """Connect receivers to Flask's template signals."""
    from flask import signals

    signals.before_render_template.connect(_before_render, weak=False)
    signals.template_rendered.connect(_rendered, weak=False)
    patches.on_undo(lambda: signals.before_render_template.disconnect(_before_render))
    patches.on_undo(lambda: signals.template_rendered.disconnect(_rendered))


def install_django(patches: Patches) -> None:
    """Wrap ``django.template.base.Template.render``."""
    from django.template.base import Template

    orig = Template.render

    def render(self: t.Any, context: t.Any) -> t.Any:
        rec = _recording()
        row = None if rec is None else begin(rec, _name(self), "django")
        if row is None or rec is None:
            return orig(self, context)
        try:
            return orig(self, context)
        finally:
            finish(rec, row)

    patches.set(Template, "render", render)
