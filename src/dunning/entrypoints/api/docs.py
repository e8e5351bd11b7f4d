"""The API reference page (``/api/v1/docs``): rendered on the server from the OpenAPI document, with the roles
each operation allows taken from the routes' own declarations. No CDN, no script: it works offline and under the
console's content security policy. The machine-readable document is ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute, iter_route_contexts

from dunning.entrypoints.http.render import renderer
from dunning.entrypoints.http.security import Allow, public
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import ROLE_ZH, Role

router = APIRouter(include_in_schema=False)


def route_roles(app: FastAPI) -> dict[tuple[str, str], str]:
    """``(METHOD, path) → "运营、合规审核"`` (or 公开) for every API route, from its :class:`Allow`."""
    out: dict[tuple[str, str], str] = {}
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        if not isinstance(route, APIRoute):
            continue
        stack, allow = list(route.dependant.dependencies), None
        while stack:
            d = stack.pop()
            if isinstance(d.call, Allow):
                allow = d.call
            stack.extend(d.dependencies)
        if allow is None:
            continue
        label = "公开 public" if allow.public else "、".join(
            f"{ROLE_ZH[r]}" for r in [Role.ADMIN, *sorted(allow.roles - {Role.ADMIN}, key=list(Role).index)])
        for m in rc.methods or ():
            out[(m, str(rc.path))] = label
    return out


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"[{_schema_name(schema.get('items'))}]"
    return str(schema.get("type", ""))


@router.get("/api/v1/docs")
def api_docs(request: Request, _p: Principal | None = public(csrf=False)) -> Response:
    app: FastAPI = request.app
    spec = app.openapi()
    roles = route_roles(app)
    ops = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            body: dict[str, Any] = op.get("requestBody", {}).get("content", {})
            first: dict[str, Any] = next(iter(body.values()), {})
            body_schema = first.get("schema")
            ops.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "tags": op.get("tags", []),
                "roles": roles.get((method.upper(), path), ""),
                "params": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                            "type": _schema_name(p.get("schema")), "description": p.get("description", "")}
                           for p in op.get("parameters", [])],
                "body": _schema_name(body_schema), "body_type": next(iter(body), "") if body else "",
                "responses": [(code, r.get("description", "")) for code, r in op.get("responses", {}).items()],
            })
    schemas = []
    for name, sch in sorted(spec.get("components", {}).get("schemas", {}).items()):
        props = [(pname, _type_of(p), str(p.get("description", ""))) for pname, p in sch.get("properties", {}).items()]
        schemas.append((name, props))
    return renderer(request).page(request, "api_docs.html", spec=spec, ops=ops, schemas=schemas)


def _type_of(p: dict[str, Any]) -> str:
    if "anyOf" in p:
        return " | ".join(_type_of(x) for x in p["anyOf"])
    return _schema_name(p) or "any"
