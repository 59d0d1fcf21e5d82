"""A Flask app that echoes what it received, for request-building tests."""

from flask import Flask, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(**config):
    app = Flask("echo")
    app.config.update(config)

    @app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "PURGE"])
    def echo():
        return jsonify(
            method=request.method,
            url=request.url,
            script_root=request.script_root,
            args=request.args.to_dict(flat=False),
            form=request.form.to_dict(flat=False),
            json=request.get_json(silent=True),
            files={
                k: [f.filename, f.mimetype, f.read().decode("latin-1")]
                for k, f in request.files.items()
            },
            data=request.get_data(as_text=True) if not request.form and not request.files else "",
            content_type=request.content_type,
            headers={k: v for k, v in request.headers.items()},
        )

    return app


app = create_app()
#: The same app behind middleware, configured with an external name.
configured = ProxyFix(
    create_app(
        SERVER_NAME="shop.example:8443", APPLICATION_ROOT="/shop", PREFERRED_URL_SCHEME="https"
    )
)
