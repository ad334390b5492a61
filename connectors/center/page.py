"""Serves the monitoring center's page and the OpenAPI description, with a strict content security policy.

The page is plain files shipped in the package: nothing is fetched from the
internet, so it works in the embedded mode on a machine with no way out.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".yaml": "application/yaml",
    ".json": "application/json",
    ".png": "image/png",
}


def _static() -> dict[str, bytes]:
    """Every shipped file by name, read once: the set is small and fixed, and no request path touches the disk."""
    folder = resources.files("connectors.center") / "static"
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and not entry.name.startswith(".")
    }


def openapi_text() -> str:
    return (resources.files("connectors.center") / "openapi.yaml").read_text(encoding="utf-8")


def add_routes(app: web.Application) -> None:
    files = _static()
    spec = openapi_text().encode()

    def _file(name: str) -> web.Response:
        body = files.get(name)
        if body is None:
            raise web.HTTPNotFound()
        content_type = next((t for ext, t in _TYPES.items() if name.endswith(ext)), "application/octet-stream")
        return web.Response(
            body=body,
            content_type=content_type,
            charset="utf-8" if content_type.startswith("text") else None,
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
        )

    async def index(_: web.Request) -> web.Response:
        return _file("index.html")

    async def static(request: web.Request) -> web.Response:
        return _file(request.match_info["name"])

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=spec, content_type="application/yaml", charset="utf-8")

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/v1/openapi.yaml", openapi)
