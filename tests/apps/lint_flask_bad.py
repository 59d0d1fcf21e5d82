"""A Flask app with PEP 3333 problems a route-by-route lint finds."""

from flask import Flask, Response, request

app = Flask(__name__)


@app.route("/")
def index():
    return "fine"


@app.route("/download")
def download():
    response = Response(b"file body")
    response.headers["Connection"] = "close"  # hop-by-hop: the server's business
    return response


@app.route("/invoice")
def invoice():
    # A non-latin-1 filename put straight into a header: servers fail to
    # encode it (RFC 8187 filename*= is the fix).
    response = Response(b"%PDF-1.7", mimetype="application/pdf")
    response.headers["Content-Disposition"] = 'attachment; filename="facture-€.pdf"'
    return response


@app.route("/report")
def report():
    response = Response(b"short")
    response.headers["Content-Length"] = "100"
    response.direct_passthrough = True
    return response


@app.route("/api/items", methods=["GET", "POST"])
def items():
    if request.method == "POST":
        return {"created": True}, 201
    return {"items": []}
