"""From an import path to a WSGI callable.

This module owns where the APP comes from (:func:`resolve_app_ref`: the
argument, ``--app``, ``WSGISCOPE_APP``, ``pyproject.toml``, discovery in the
current directory), how an import string is parsed (:func:`parse_import_path`,
literal arguments through :mod:`ast`, never ``eval``) and how the module is
imported and the object found (:func:`load_app`). Every way this can fail has
its own message here: a user always learns what was looked for, where, and
what to do.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import importlib
import inspect
import os
import re
import sys
import threading
import traceback
import types
import typing as t
from pathlib import Path

from wsgiscope.errors import AppLoadError

if t.TYPE_CHECKING:
    from wsgiscope.hosting import HostedApp

#: Module-level names tried, in order, when an import path names no attribute.
APP_NAMES = ("application", "app")
#: Factory names tried after :data:`APP_NAMES`.
FACTORY_NAMES = ("create_app", "make_app")
#: Files tried, in order, when no APP is given at all.
DISCOVERY_FILES = ("wsgi.py", "app.py")
#: How many of a module's WSGI-looking names a hint lists (it stays one line).
_MAX_NAMES = 8

_HINT_FORMS = (
    "use 'module:attr', 'module:factory()', 'module', 'path/to/file.py[:attr]' "
    "or 'package.module:obj.attr'"
)


@dataclasses.dataclass(frozen=True)
class AppRef:
    """Which app to load and how wsgiscope learnt of it.

    :param import_path: the import string, e.g. ``"shop.wsgi:app"``.
    :param source: ``"argument"``, ``"--app"``, ``"WSGISCOPE_APP"``,
        ``"pyproject"`` (with the file) or ``"discovery"``.
    :param base_dir: the directory the import is resolved from.
    """

    import_path: str
    source: str
    base_dir: Path = dataclasses.field(default_factory=Path.cwd)


@dataclasses.dataclass(frozen=True)
class ImportSpec:
    """A parsed import path.

    :param module: dotted module name, or ``None`` for a file path.
    :param file: the ``.py`` file named by a file path, else ``None``.
    :param attrs: attribute chain after ``:`` (empty: discover).
    :param call: ``(args, kwargs)`` when the last attribute is called.
    """

    module: str | None
    file: Path | None
    attrs: tuple[str, ...]
    call: tuple[tuple[t.Any, ...], dict[str, t.Any]] | None


@dataclasses.dataclass
class LoadedApp:
    """The result of :func:`load_app`.

    :param ref: what was asked for.
    :param app: the WSGI callable.
    :param module: the imported module.
    :param attr_path: how the object was reached, e.g. ``"create_app()"``.
    """

    ref: AppRef
    app: t.Any
    module: types.ModuleType
    attr_path: str

    @property
    def file(self) -> str | None:
        """The module's source file, if it has one."""
        return getattr(self.module, "__file__", None)


def resolve_app_ref(
    argument: str | None = None,
    option: str | None = None,
    cwd: Path | None = None,
    environ: t.Mapping[str, str] | None = None,
) -> AppRef:
    """Find which app to load, in the documented order.

    The positional argument wins, then ``--app``, then ``WSGISCOPE_APP``,
    then ``app = "..."`` under ``[tool.wsgiscope]`` in the nearest
    ``pyproject.toml``, then discovery (``wsgi.py``, ``app.py``, a Django
    project's ``*/wsgi.py`` beside ``manage.py``) in ``cwd``.

    :raises AppLoadError: when none of these names an app.
    """
    cwd = Path.cwd() if cwd is None else cwd
    environ = os.environ if environ is None else environ
    if argument:
        return AppRef(argument, "argument", cwd)
    if option:
        return AppRef(option, "--app", cwd)
    hosted = _hosted()
    if hosted is not None:  # flask scope, manage.py wsgiscope
        return hosted.ref
    if environ.get("WSGISCOPE_APP"):
        return AppRef(environ["WSGISCOPE_APP"], _env_origin("WSGISCOPE_APP"), cwd)
    if environ.get("FLASK_APP"):
        return AppRef(environ["FLASK_APP"], _env_origin("FLASK_APP"), cwd)
    found = _app_from_pyproject(cwd)
    if found is not None:
        return found
    discovered = _discover_file(cwd)
    if discovered is not None:
        return AppRef(discovered, "discovery", cwd)
    raise AppLoadError(
        f"no app given and none found in {cwd} (looked for {', '.join(DISCOVERY_FILES)})",
        hint="pass APP (e.g. 'app:app'), use --app, set WSGISCOPE_APP or FLASK_APP, "
        'or set app = "module:attr" under [tool.wsgiscope] in pyproject.toml',
    )


def _env_origin(name: str) -> str:
    from wsgiscope.envfiles import origin

    return origin(name)


def _app_from_pyproject(cwd: Path) -> AppRef | None:
    from wsgiscope.config import find_table

    table, pyproject = find_table(cwd, strict=True)
    app = table.get("app")
    if pyproject is None or app is None:
        return None
    if not isinstance(app, str) or not app:
        raise AppLoadError(
            f"{pyproject}: [tool.wsgiscope] app must be a non-empty string, got {app!r}"
        )
    return AppRef(app, f"pyproject ({pyproject})", pyproject.parent)
    return None


def _discover_file(cwd: Path) -> str | None:
    for name in DISCOVERY_FILES:
        if (cwd / name).is_file():
            return name[: -len(".py")]
    if (cwd / "manage.py").is_file():
        candidates = sorted(p.parent.name for p in cwd.glob("*/wsgi.py"))
        if len(candidates) == 1:
            return f"{candidates[0]}.wsgi"
    return None


_PASTE_URI = re.compile(r"^(?:config:)?(?P<file>[^#]+\.ini)(?:#(?P<name>[^#]*))?$", re.IGNORECASE)


def parse_paste_uri(import_path: str) -> tuple[Path, str] | None:
    """``development.ini[#name]`` (or ``config:...``): the file and app name, else ``None``."""
    found = _PASTE_URI.match(import_path.strip())
    if found is None:
        return None
    return Path(found.group("file")), found.group("name") or "main"


def parse_import_path(import_path: str) -> ImportSpec:
    """Parse ``module[:expr]`` or ``path/to/file.py[:expr]``.

    ``expr`` is a dotted attribute chain, optionally called with literal
    arguments: ``create_app("prod", debug=True)``.

    :raises AppLoadError: for a malformed string, naming what is wrong.
    """
    text = import_path.strip()
    if not text:
        raise AppLoadError("the import path is empty", hint=_HINT_FORMS)
    target, sep, expr = text.partition(":")
    if sep and not expr:
        raise AppLoadError(
            f"malformed import path {import_path!r}: nothing after ':'", hint=_HINT_FORMS
        )
    if ":" in expr and "(" not in expr.split(":", 1)[0]:
        raise AppLoadError(
            f"malformed import path {import_path!r}: more than one ':'", hint=_HINT_FORMS
        )
    attrs, call = _parse_expr(import_path, expr) if expr else ((), None)
    if target.endswith(".py") or "/" in target or os.sep in target:
        return ImportSpec(None, Path(target), attrs, call)
    if not all(part.isidentifier() for part in target.split(".")):
        raise AppLoadError(
            f"malformed import path {import_path!r}: {target!r} is not a module name",
            hint=_HINT_FORMS,
        )
    return ImportSpec(target, None, attrs, call)


def _parse_expr(
    import_path: str, expr: str
) -> tuple[tuple[str, ...], tuple[tuple[t.Any, ...], dict[str, t.Any]] | None]:
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        raise AppLoadError(
            f"malformed import path {import_path!r}: {expr!r} is not an attribute name or a call",
            hint=_HINT_FORMS,
        ) from None
    call = None
    if isinstance(node, ast.Call):
        try:
            args = tuple(ast.literal_eval(arg) for arg in node.args)
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
        except ValueError:
            raise AppLoadError(
                f"malformed import path {import_path!r}: the arguments of {expr!r} "
                "must be literals (strings, numbers, True/False/None, lists, dicts)",
            ) from None
        if any(kw.arg is None for kw in node.keywords) or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            raise AppLoadError(
                f"malformed import path {import_path!r}: *args and **kwargs are not allowed"
            )
        call = (args, kwargs)
        node = node.func
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise AppLoadError(
            f"malformed import path {import_path!r}: {expr!r} is not an attribute name or a call",
            hint=_HINT_FORMS,
        )
    names.append(node.id)
    return tuple(reversed(names)), call


def _hosted() -> HostedApp | None:
    """The app a host CLI handed over (:mod:`wsgiscope.hosting`), if any: only
    a host imports that module, so a process where nobody did has none."""
    hosting = sys.modules.get("wsgiscope.hosting")
    return None if hosting is None else t.cast("HostedApp | None", hosting.current)


def load_app(ref: AppRef) -> LoadedApp:
    """Import the module ``ref`` names and return its WSGI callable.

    The base directory (normally the current one) is put on ``sys.path``;
    a file path puts the root of its package there instead, as Flask does.
    What the app prints while it is imported or built goes to stderr:
    stdout carries wsgiscope's report (``--json`` stays valid JSON).

    :raises AppLoadError: with a message that tells the failure apart from
        all the others (see the module docstring); when APP did not come
        from the command line, the message says where it came from.
    """
    hosted = _hosted()
    if hosted is not None and ref is hosted.ref:
        return hosted.loaded()
    before = set(threading.enumerate())
    real_exit = os._exit
    os._exit = _exit_while_loading  # type: ignore[assignment]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return _load(ref)
    except _AppExited as exc:
        error = AppLoadError(
            f"the app exited the process while loading (os._exit({exc.status})){_raise_site(exc)}",
            hint="importing or building the app must not end the process",
        )
        origin = _origin(ref)
        if origin:
            error.message = f"{error.message}; {origin}"
        raise error from None
    except AppLoadError as exc:
        origin = _origin(ref)
        if origin:
            exc.message = f"{exc.message}; {origin}"
        raise
    finally:
        if os._exit is _exit_while_loading:
            os._exit = real_exit
        app_threads.extend(
            thread
            for thread in threading.enumerate()
            if thread not in before and not thread.daemon and thread.is_alive()
        )


class _AppExited(BaseException):
    """``os._exit()`` called by the app while it loaded (see :func:`load_app`)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _exit_while_loading(status: int = 0) -> t.NoReturn:
    """``os._exit`` while the app loads: report it instead of vanishing
    (wsgiscope's output, and the reason, would be lost with the process)."""
    raise _AppExited(status)


#: Non-daemon threads the app started while it loaded: they would keep the
#: process alive after the command's work is done (see ``wsgiscope.cli.main``).
app_threads: list[threading.Thread] = []


def leave_app_threads(code: int) -> None:
    """In a process whose work is done: when threads the app started are
    still running, run the exit handlers, flush and end the process with
    ``code`` now (Python would wait for those threads forever); else return."""
    if not any(thread.is_alive() for thread in app_threads):
        return
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _origin(ref: AppRef) -> str | None:
    """Where an APP the user did not type came from, for error messages."""
    if ref.source in ("argument", "--app"):
        return None
    if ref.source == "discovery":
        return f"APP {ref.import_path!r} was found by discovery in {ref.base_dir}"
    return f"APP {ref.import_path!r} came from {ref.source}"


def _load(ref: AppRef) -> LoadedApp:
    paste = parse_paste_uri(ref.import_path)
    if paste is not None:
        from wsgiscope.pastedeploy import load_paste_app

        return load_paste_app(ref, *paste)
    spec = parse_import_path(ref.import_path)
    if spec.file is not None:
        # as flask and gunicorn: only the file's package root goes on
        # sys.path, not the current directory (a framework's own source tree
        # there would shadow the installed framework)
        module_name, path = _prepare_file_import(ref.base_dir, spec.file)
    else:
        base = str(ref.base_dir)
        if base not in sys.path:
            sys.path.insert(0, base)
        assert spec.module is not None
        module_name, path = spec.module, None
        if (ref.base_dir / spec.module).is_file():
            raise AppLoadError(
                f"{spec.module} is a file but not a Python module: an APP file must end in .py",
                hint=_HINT_FORMS,
            )
    module = import_module(module_name, ref.base_dir)
    if path is not None:
        _check_file_imported(module, spec.file or path, path)
    else:
        _check_not_shadowed(module, ref.base_dir)
    if spec.attrs:
        app, attr_path = _find_attr(module, spec)
    else:
        app, attr_path = _discover_attr(module)
    _check_wsgi(module, attr_path, app)
    return LoadedApp(ref, app, module, attr_path)


def _prepare_file_import(base_dir: Path, file: Path) -> tuple[str, Path]:
    """The module name a ``.py`` file is imported as, and the file itself."""
    path = file if file.is_absolute() else base_dir / file
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            raise AppLoadError(
                f"{file} is a directory, not a .py file or a package",
                hint=f"name the file that holds the app, e.g. '{file / 'app.py'}'",
            )
        path = path / "__init__.py"
    if path.suffix != ".py":
        path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path
    if not path.is_file():
        raise AppLoadError(
            f"file not found: {file} (looked in {path.parent.resolve()})",
            hint="check the path, or use a module name such as 'app:app'",
        )
    if path.suffix != ".py":
        raise AppLoadError(
            f"{file} is not a Python file: an APP file must end in .py", hint=_HINT_FORMS
        )
    path = path.resolve()
    names = [path.stem] if path.stem != "__init__" else []
    directory = path.parent
    while (directory / "__init__.py").is_file():
        names.append(directory.name)
        directory = directory.parent
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    return ".".join(reversed(names)), path


def _check_file_imported(module: types.ModuleType, given: Path, path: Path) -> None:
    """The module imported for a file path must be that file, not a namesake."""
    file = getattr(module, "__file__", None)
    if file is not None and Path(file).resolve() == path:
        return
    taken = f"the module at {file}" if file else "a built-in module"
    raise AppLoadError(
        f"{given} cannot be imported as {module.__name__!r}: that name is already {taken}",
        hint=f"rename {path.name} (or its package) to a name of its own",
    )


def _check_not_shadowed(module: types.ModuleType, base_dir: Path) -> None:
    """A project file named like a standard module is never the one imported."""
    top = module.__name__.partition(".")[0]
    local = [base_dir / f"{top}.py", base_dir / top / "__init__.py"]
    found = next((p for p in local if p.is_file()), None)
    if found is None:
        return
    imported = sys.modules.get(top)
    file = getattr(imported, "__file__", None)
    if file is not None and Path(file).resolve() == found.resolve():
        return  # the project's own file was imported (sysconfig not asked)
    if file is not None:
        import sysconfig

        paths = sysconfig.get_paths()
        resolved = Path(file).resolve()
        installed = (Path(paths["purelib"]), Path(paths["platlib"]))
        if not resolved.is_relative_to(Path(paths["stdlib"])) or any(
            resolved.is_relative_to(p) for p in installed
        ):
            return
    where = f"Python's own {top!r} module ({file})" if file else f"Python's built-in {top!r}"
    raise AppLoadError(
        f"{module.__name__!r} is {where}, not {found}",
        hint=f"rename {found.relative_to(base_dir)} to a name Python does not use",
    )


def import_module(name: str, base_dir: Path) -> types.ModuleType:
    """Import ``name``, telling "not found" from "raised while importing"."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        itself = name == missing or name.startswith(missing + ".")
        if itself and not _user_frames(exc.__traceback__):
            raise AppLoadError(
                f"module {name!r} not found (looked for {missing!r} from {base_dir}"
                f"{_close_module(missing, base_dir)})",
                hint="run wsgiscope from the project directory, or pass a file path",
            ) from None
        parent, _, child = missing.rpartition(".")
        if missing and missing == os.environ.get("DJANGO_SETTINGS_MODULE"):
            why, hint = "does not exist", f"DJANGO_SETTINGS_MODULE is {missing!r}: fix or unset it"
        elif parent in sys.modules:
            why, hint = "does not exist", f"{parent!r} has no module {child!r}: fix the import"
        else:
            why = "is not installed or not found"
            hint = f"install {missing.split('.')[0]!r} or fix the import"
        raise AppLoadError(
            f"importing {name!r} failed{_raise_site(exc)}: it imports {missing!r}, which {why}",
            hint=hint,
        ) from exc
    except SyntaxError as exc:
        raise AppLoadError(
            f"syntax error in {exc.filename}:{exc.lineno}: {exc.msg}",
            hint=(exc.text or "").strip() or None,
        ) from exc
    except SystemExit as exc:
        raise AppLoadError(
            f"importing {name!r} called sys.exit({exc.code!r}){_raise_site(exc)}",
            hint="importing the app must not exit: "
            "keep sys.exit() under if __name__ == '__main__':",
        ) from exc
    except Exception as exc:
        raise AppLoadError(
            f"importing {name!r} raised {_describe_exception(exc)}{_raise_site(exc)}",
        ) from exc


def _close_module(missing: str, base_dir: Path) -> str:
    """``; did you mean 'shop'?`` for a module name with a near namesake."""
    parent, _, child = missing.rpartition(".")
    package = sys.modules.get(parent) if parent else None
    directories = list(getattr(package, "__path__", [])) if parent else [base_dir]
    names: set[str] = set()
    for directory in map(Path, directories):
        try:
            entries = list(directory.iterdir())
        except OSError:
            continue
        names.update(e.stem for e in entries if e.suffix == ".py" and e.stem != "__init__")
        names.update(e.name for e in entries if (e / "__init__.py").is_file())
    close = difflib.get_close_matches(child, sorted(names), n=1, cutoff=0.75)
    return f"; did you mean {'.'.join(filter(None, (parent, close[0])))!r}?" if close else ""


_MACHINERY = (str(Path(importlib.__file__).parent), str(Path(__file__).parent), "<frozen")


def _user_frames(tb: types.TracebackType | None) -> list[traceback.FrameSummary]:
    """Frames of the app's code: not the import machinery, not wsgiscope."""
    return [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_MACHINERY)]


def _raise_site(exc: BaseException) -> str:
    """`` at file:line`` of the app's own code that raised (not a library's)."""
    frames = _user_frames(exc.__traceback__)
    if not frames:
        return ""
    import sysconfig

    paths = sysconfig.get_paths()
    libraries = tuple({paths["stdlib"], paths["purelib"], paths["platlib"]})
    own = [f for f in frames if not f.filename.startswith(libraries)]
    frame = (own or frames)[-1]
    return f" at {frame.filename}:{frame.lineno}"


def _describe_exception(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:  # the app's exception class has a __str__ that raises
        message = f"<str() of it raised {type(sys.exc_info()[1]).__name__}>"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _find_attr(module: types.ModuleType, spec: ImportSpec) -> tuple[t.Any, str]:
    obj: t.Any = module
    walked: list[str] = []
    for name in spec.attrs:
        where = module.__name__ + (":" + ".".join(walked) if walked else "")
        value = _attribute(obj, name, f"{module.__name__}:{'.'.join([*walked, name])}")
        if value is _MISSING:
            raise AppLoadError(
                f"{where} has no attribute {name!r}{_suggest(obj, name)}",
                hint=_wsgi_names_hint(module) if not walked else None,
            )
        obj = value
        walked.append(name)
    attr_path = ".".join(spec.attrs)
    if spec.call is not None:
        args, kwargs = spec.call
        return _call_factory(module, attr_path, obj, args, kwargs)
    if _is_factory(obj) or _is_named_factory(obj):
        # a create_app that needs arguments is reported as a factory called
        # without them, not loaded as a WSGI app it is not
        return _call_factory(module, attr_path, obj, (), {})
    return obj, attr_path


_MISSING = object()


def _attribute(obj: t.Any, name: str, shown: str) -> t.Any:
    """``getattr(obj, name)``, or :data:`_MISSING`; other errors are the app's."""
    try:
        return getattr(obj, name)
    except AttributeError:
        return _MISSING
    except Exception as exc:  # a module __getattr__ or a property of the app's
        raise AppLoadError(
            f"getting {shown} raised {_describe_exception(exc)}{_raise_site(exc)}"
        ) from exc


def _discover_attr(module: types.ModuleType) -> tuple[t.Any, str]:
    found = {
        name: _attribute(module, name, f"{module.__name__}:{name}")
        for name in (*APP_NAMES, *FACTORY_NAMES)
    }
    found = {name: value for name, value in found.items() if value not in (_MISSING, None)}
    for name in APP_NAMES:
        obj = found.get(name)
        if obj is not None and callable(obj) and not _is_factory(obj):
            return obj, name
    flask_app = _only_flask_app(module)
    if flask_app is not None:
        return flask_app
    for name in FACTORY_NAMES:
        obj = found.get(name)
        if obj is not None and callable(obj):
            return _call_factory(module, name, obj, (), {})
    for name in APP_NAMES:
        if name in found:
            # 'application = "x"': say what it is rather than that it is missing
            _check_wsgi(module, name, found[name])
    names = wsgi_looking_names(module)
    raise AppLoadError(
        f"module {module.__name__!r} has no 'application', 'app', 'create_app' or 'make_app'",
        hint=f"{_wsgi_names_hint(module)}; name one, e.g. '{module.__name__}:{names[0]}'"
        if names
        else _wsgi_names_hint(module),
    )


def _only_flask_app(module: types.ModuleType) -> tuple[t.Any, str] | None:
    """The module's one Flask instance, whatever its name (Flask's ``find_best_app``).

    :raises AppLoadError: when the module holds several, as Flask does.
    """
    flask = sys.modules.get("flask")
    if flask is None:  # the module would have imported it
        return None
    found = []
    for name, value in list(vars(module).items()):
        try:
            if isinstance(value, flask.Flask):
                found.append(name)
        except Exception:  # a proxy whose __class__ raises
            continue
    if len(found) == 1:
        return getattr(module, found[0]), found[0]
    if len(found) > 1:
        raise AppLoadError(
            f"module {module.__name__!r} holds several Flask apps: {', '.join(found[:_MAX_NAMES])}",
            hint=f"name one, e.g. '{module.__name__}:{found[0]}' (as flask asks too)",
        )
    return None


def _is_factory(obj: t.Any) -> bool:
    """A plain function that needs no argument is a factory, not a WSGI app."""
    if not isinstance(obj, types.FunctionType):
        return False
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    required = [
        p
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return not required and obj.__name__ in FACTORY_NAMES


def _is_named_factory(obj: t.Any) -> bool:
    """A function named ``create_app``/``make_app`` whose first parameter is
    not ``environ``: a factory, whatever arguments it needs."""
    if not isinstance(obj, types.FunctionType) or obj.__name__ not in FACTORY_NAMES:
        return False
    try:
        parameters = list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return False
    return not parameters or parameters[0] not in ("environ", "env")


def _call_factory(
    module: types.ModuleType,
    name: str,
    factory: t.Any,
    args: tuple[t.Any, ...],
    kwargs: dict[str, t.Any],
) -> tuple[t.Any, str]:
    call = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    shown = f"{module.__name__}:{name}({call})"
    if not callable(factory):
        raise AppLoadError(f"{module.__name__}:{name} is {_what(factory)}, it cannot be called")
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            missing = [
                p.name
                for p in signature.parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            raise AppLoadError(
                f"factory {shown} cannot be called with these arguments: {exc}",
                hint=(
                    f"it needs {', '.join(missing)}: e.g. '{module.__name__}:{name}("
                    + ", ".join(f"{m}=..." for m in missing)
                    + ")'"
                )
                if missing
                else None,
            ) from None
    try:
        app = factory(*args, **kwargs)
    except SystemExit as exc:
        raise AppLoadError(
            f"factory {shown} called sys.exit({exc.code!r}){_raise_site(exc)}"
        ) from exc
    except Exception as exc:
        raise AppLoadError(
            f"factory {shown} raised {_describe_exception(exc)}{_raise_site(exc)}"
        ) from exc
    return app, f"{name}({call})"


def _check_wsgi(module: types.ModuleType, attr_path: str, app: t.Any) -> None:
    where = f"{module.__name__}:{attr_path}"
    if app is None:
        raise AppLoadError(f"{where} is None, not a WSGI application")
    if not callable(app):
        raise AppLoadError(
            f"{where} is {_what(app)}, not a WSGI application",
            hint="a WSGI app is a callable taking (environ, start_response)",
        )
    if isinstance(app, type):
        raise AppLoadError(
            f"{where} is the class {app.__qualname__}, not an instance of it",
            hint=f"create the app in the module (app = {app.__qualname__}(...)) or name a factory",
        )
    try:
        # the callable's own signature: a decorator such as werkzeug's
        # @Request.application sets __wrapped__ to a (request) function
        signature = inspect.signature(app, follow_wrapped=False)
    except Exception:  # no signature, or a __getattr__ of the app's that raises
        return
    try:
        signature.bind(object(), object())
    except TypeError:
        hint = "a WSGI app is a callable taking (environ, start_response)"
        with contextlib.suppress(TypeError):
            signature.bind()
            if inspect.isfunction(app) and not attr_path.endswith(")"):
                hint = f"{hint}; if {attr_path} is a factory, call it: '{where}()'"
        raise AppLoadError(
            f"{where} is {_what(app)} with signature {signature}, which cannot take "
            "(environ, start_response)",
            hint=hint,
        ) from None


def _what(obj: t.Any) -> str:
    kind = type(obj)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )
    article = "an" if name[:1].lower() in "aeiou" else "a"
    if inspect.isfunction(obj):
        return f"the function {obj.__qualname__}"
    return f"{article} {name}"


def _suggest(obj: t.Any, name: str) -> str:
    names = [n for n in dir(obj) if not n.startswith("_")]
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def wsgi_looking_names(module: types.ModuleType) -> list[str]:
    """Names in ``module`` that could be a WSGI app or an app factory."""
    found = []
    for name, value in vars(module).items():
        try:
            if _looks_like_wsgi(module, name, value):
                found.append(name)
        except Exception:  # a proxy such as flask.request raises outside a request
            continue
    return found


def _looks_like_wsgi(module: types.ModuleType, name: str, value: t.Any) -> bool:
    if name.startswith("_") or isinstance(value, (type, types.ModuleType)):
        return False
    if name in FACTORY_NAMES and callable(value):
        return True
    if not callable(value) or isinstance(value, types.BuiltinFunctionType):
        return False
    if inspect.isfunction(value) and getattr(value, "__module__", None) != module.__name__:
        return False
    try:
        inspect.signature(value).bind(object(), object())
    except (TypeError, ValueError):
        return False
    return True


def _wsgi_names_hint(module: types.ModuleType) -> str | None:
    names = wsgi_looking_names(module)
    if not names:
        return f"{module.__name__!r} defines nothing that looks like a WSGI app"
    shown = ", ".join(names[:_MAX_NAMES])
    more = f" and {len(names) - _MAX_NAMES} more" if len(names) > _MAX_NAMES else ""
    return f"WSGI-looking names in {module.__name__!r}: {shown}{more}"
