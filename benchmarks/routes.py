"""``wsgiscope routes`` against ``flask routes`` on a generated app with 5,000 rules.

The app (50 blueprints of 100 rules, with int/string/path/uuid/custom
converters and a few POST rules) is written to a temporary directory; both
commands run there in fresh interpreters, interleaved, RUNS times each, output
piped (as in CI). Printed: the medians, and each wsgiscope variant's ratio to
``flask routes``, all measured in this one run.

    python benchmarks/routes.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULES = 5000
BLUEPRINTS = 50

APP = """
from flask import Blueprint, Flask
from werkzeug.routing import BaseConverter


class Code(BaseConverter):
    regex = r"[A-Z]{{3}}-\\d{{4}}"


def view(**kwargs):
    return "ok"


app = Flask(__name__)
app.url_map.converters["code"] = Code
PATTERNS = [
    "/items/<int:item_id>",
    "/pages/<name>",
    "/files/<path:name>",
    "/orders/<uuid:order>",
    "/codes/<code:code>",
    "/plain",
]
for b in range({blueprints}):
    bp = Blueprint(f"section{{b}}", __name__, url_prefix=f"/section{{b}}")
    for r in range({per_blueprint}):
        rule = f"/r{{r}}" + PATTERNS[r % len(PATTERNS)]
        methods = ["POST"] if r % 10 == 0 else ["GET"]
        bp.add_url_rule(rule, endpoint=f"e{{r}}", view_func=view, methods=methods)
    app.register_blueprint(bp)
"""

#: Run against this checkout even when wsgiscope is not installed.
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "NO_COLOR": "1"}

COMMANDS = {
    "flask routes": [sys.executable, "-m", "flask", "--app", "bench_routes", "routes"],
    "wsgiscope routes": [sys.executable, "-m", "wsgiscope", "routes", "bench_routes"],
    "wsgiscope routes --table": [
        sys.executable,
        "-m",
        "wsgiscope",
        "routes",
        "bench_routes",
        "--table",
    ],
    "wsgiscope routes --json": [
        sys.executable,
        "-m",
        "wsgiscope",
        "routes",
        "bench_routes",
        "--json",
    ],
}


def measure(runs: int) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as directory:
        source = APP.format(blueprints=BLUEPRINTS, per_blueprint=RULES // BLUEPRINTS)
        Path(directory, "bench_routes.py").write_text(source)
        for name, command in COMMANDS.items():  # warm-up, and check the rule count
            output = subprocess.run(
                command, cwd=directory, capture_output=True, check=True, env=ENV, text=True
            ).stdout
            assert output.count("/section") >= RULES, name
        for _ in range(runs):
            for name, command in COMMANDS.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=directory, capture_output=True, check=True, env=ENV)
                timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    medians = measure(runs)
    flask = medians["flask routes"]
    print(f"{RULES} rules, median of {runs} runs each, interleaved, output piped")
    for name, median in medians.items():
        ratio = "" if name == "flask routes" else f"  {median / flask:.2f}x flask routes"
        print(f"  {name:<28} {median:8.1f} ms{ratio}")


if __name__ == "__main__":
    main()
