"""What a request carries besides its path (body, content type, query parameters), and how
answers are written (JSON, Status errors, warnings).

Each verb takes its own content types, as kube-apiserver negotiates them: a create or update
takes an object (JSON or YAML), a patch one of the patch types; anything else is a 415 that
lists what the verb takes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from app.sim import admission, patch
from app.sim.errors import ApiError, bad_request, unsupported_media_type
from app.sim.resources import Resource
from app.sim.store import dump_json

JSON = "application/json"
YAML = "application/yaml"
# The object content types a create, update or delete body may have (protobuf and CBOR are not
# served).
OBJECT_TYPES = (JSON, YAML)


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower case; JSON when absent."""
    value = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return value or JSON


async def read_body(request: Request, *, optional: bool = False) -> Any:
    """The decoded body of a create, update, patch or delete (415 for a type the verb refuses)."""
    raw = await request.body()
    if optional and not raw.strip():
        return None
    media = media_type(request)
    accepted = patch.MEDIA_TYPES if request.method == "PATCH" else OBJECT_TYPES
    if media not in accepted and not (media == "text/yaml" and YAML in accepted):
        raise unsupported_media_type(accepted)
    if not raw.strip():
        raise bad_request("request body must not be empty")
    if media.endswith("yaml"):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"error decoding JSON: {exc}") from None


def field_validation(request: Request, res: Resource, body: Any) -> list[str]:
    """Unknown fields: 400 under fieldValidation=Strict, warnings under Warn (the default)."""
    mode = request.query_params.get("fieldValidation", "Warn")
    if mode == "Ignore" or not isinstance(body, dict):
        return []
    unknown = admission.unknown_fields(res, body)
    if unknown and mode == "Strict":
        details = ", ".join(f'unknown field "{name}"' for name in unknown)
        raise bad_request(f"strict decoding error: {details}")
    return [f'unknown field "{name}"' for name in unknown]


def warn(response: Response, warnings: list[str]) -> Response:
    """Attach `Warning: 299 - "..."` headers, which kubectl prints."""
    for text in warnings:
        escaped = text.replace('"', '\\"')
        response.headers.append("Warning", f'299 - "{escaped}"')
    return response


def dry_run(request: Request, in_body: Any = None) -> bool:
    """`dryRun=All` (query, or DeleteOptions in the body): admit and answer, store nothing."""
    values = request.query_params.getlist("dryRun")
    if isinstance(in_body, list):
        values += [str(v) for v in in_body]
    for value in values:
        if value != "All":
            raise bad_request(f'Invalid dry run value: "{value}": valid values are [All]')
    return bool(values)


def wants_table(request: Request) -> bool:
    """Whether the client asked for a `Table` (kubectl get)."""
    return "as=Table" in request.headers.get("accept", "")


def flag(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it (clients send 1/true/True)."""
    return value in ("1", "t", "T", "true", "TRUE", "True")


def int_param(value: str | None, name: str) -> int | None:
    """An integer query parameter; 400 when it is not one."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid value for {name}: {value!r}") from None


def path_not_found() -> ApiError:
    """404 for a path the server does not serve."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def sort_key(obj: dict[str, Any]) -> str:
    """The order of list results (and the position a continue token records)."""
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def encode_continue(rv: int, after: str) -> str:
    """A continue token: the list's resourceVersion and the last key returned."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": after}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> tuple[int, str]:
    """The resourceVersion and last key of a continue token (400 when malformed)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        ) from None


def json_response(body: Any, status: int = 200) -> Response:
    """A compact JSON response ending with a newline, as Go's JSON encoder writes it."""
    return Response(dump_json(body) + b"\n", status, media_type=JSON)


def error_response(error: ApiError) -> Response:
    """The `Status` body of an API error with its code."""
    return json_response(error.status(), error.code)
