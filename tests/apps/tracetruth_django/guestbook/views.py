"""The guestbook: a form (CSRF-protected) whose entries go to SQLite."""

from __future__ import annotations

import sqlite3

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    conn.execute("CREATE TABLE IF NOT EXISTS entry (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
    return conn


def sign(request: HttpRequest) -> HttpResponse:
    conn = _db()
    try:
        if request.method == "POST":
            name = request.POST.get("name", "").strip()
            city = request.POST.get("city", "").strip()
            if name:
                with conn:
                    conn.execute("INSERT INTO entry (name, city) VALUES (?, ?)", (name, city))
                messages.success(request, f"Thanks, {name}!")
                return redirect("guestbook:sign")
        entries = conn.execute("SELECT name, city FROM entry ORDER BY id DESC").fetchall()
    finally:
        conn.close()
    return render(request, "guestbook/sign.html", {"entries": entries})


def city(request: HttpRequest, name: str) -> JsonResponse:
    conn = _db()
    try:
        rows = conn.execute("SELECT name FROM entry WHERE city = ?", (name,)).fetchall()
    finally:
        conn.close()
    return JsonResponse({"city": name, "path": request.path, "signed": [r[0] for r in rows]})


def search(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"q": request.GET.get("q", "")})
