"""Validate vexfs-unified-server HTTP responses against Qdrant's published
OpenAPI document (OpenAPI 3.0), with the `jsonschema` package.

The OpenAPI schemas are converted to JSON Schema (draft 2020-12):

* `nullable: true` next to a `type` becomes `type: [T, "null"]` (and `null`
  is added to an `enum`); next to `$ref`/`anyOf`/`oneOf`/`allOf` the schema is
  wrapped as `anyOf: [<schema>, {"type": "null"}]`.
* a bare `{"nullable": true}` (Qdrant's spelling of `Option<T>`:
  `anyOf: [{$ref: T}, {nullable: true}]`) becomes `{"type": "null"}`. Read
  literally it would be "any value", which would make every such `anyOf`
  accept anything and hide real mismatches.
* `$ref`s keep pointing at `#/components/schemas/...`; the converted document
  is registered as one resource so they resolve in place.

Stricter than plain JSON Schema, because typed clients (Rust, Go, the
generated TypeScript/pydantic models) are:

* `integer` accepts only JSON integers, never `1.0`;
* `format: uuid` is checked.

Responses:

* 200 with an `application/json` schema: the whole body is validated
  against the route's 200 schema. If that schema is the usual Qdrant envelope
  (`{usage, time, status, result}`), `result`, `status` and `time` are
  additionally required and `status` must be `"ok"` (Qdrant always sends
  them; the spec lists them as optional properties only).
* any other status: the body must be JSON and match the route's `4XX` /
  `5XX` / `default` schema (`ErrorResponse`) AND the strict error shape
  `{"status": {"error": <string>}, "time": <number>}`.
* `text/plain` 200s (`/healthz`, ...) must not claim JSON and must be text.

Every mismatch is reported with the JSON path of the offending field.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
SPEC_ENV = "QDRANT_OPENAPI_DIR"


def spec_dir() -> Path:
    """`<repo>/../shared/qdrant` (override with $QDRANT_OPENAPI_DIR)."""
    env = os.environ.get(SPEC_ENV)
    return Path(env) if env else (REPO.parent / "shared" / "qdrant")


def spec_path(version: str) -> Path:
    return spec_dir() / f"openapi-v{version}.json"


class SpecMissing(RuntimeError):
    pass


def load_spec(version: str) -> dict:
    path = spec_path(version)
    if not path.is_file():
        raise SpecMissing(
            f"Qdrant OpenAPI document not found: {path}\n"
            f"The schema tests need Qdrant's published OpenAPI files in "
            f"<repo>/../shared/qdrant/ (openapi-v1.19.json, openapi-v1.18.json); "
            f"CI clones the repository with `shared/` beside it. Put them there or "
            f"set ${SPEC_ENV} to the directory holding them.")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# OpenAPI 3.0 schema -> JSON Schema 2020-12
# ---------------------------------------------------------------------------

_NULL = {"type": "null"}
_SCHEMA_LIST_KEYS = ("anyOf", "oneOf", "allOf")
_SCHEMA_KEYS = ("items", "not")


def convert_schema(s: Any) -> Any:
    """Convert one OpenAPI 3.0 schema object (recursively)."""
    if isinstance(s, bool) or not isinstance(s, dict):
        return s
    out: dict = {}
    for k, v in s.items():
        if k == "nullable":
            continue
        if k == "properties":
            out[k] = {name: convert_schema(sub) for name, sub in v.items()}
        elif k == "additionalProperties":
            out[k] = convert_schema(v)
        elif k in _SCHEMA_LIST_KEYS:
            out[k] = [convert_schema(sub) for sub in v]
        elif k in _SCHEMA_KEYS:
            out[k] = convert_schema(v)
        elif k == "example":
            continue  # not a JSON Schema keyword
        else:
            out[k] = copy.deepcopy(v)
    if s.get("nullable") is True:
        if "type" in out:
            t = out["type"]
            types = list(t) if isinstance(t, list) else [t]
            if "null" not in types:
                types.append("null")
            out["type"] = types
            if "enum" in out and None not in out["enum"]:
                out["enum"] = list(out["enum"]) + [None]
        elif any(k in out for k in ("$ref",) + _SCHEMA_LIST_KEYS):
            meta = {k: out.pop(k) for k in ("description", "default", "deprecated") if k in out}
            out = {**meta, "anyOf": [out, dict(_NULL)]}
        else:
            # bare {"nullable": true} (possibly with a description)
            out["type"] = "null"
    return out


def close_schema(s: Any) -> Any:
    """Copy of a converted schema in which every object schema that lists
    `properties` (and says nothing about others) rejects undeclared ones."""
    if isinstance(s, list):
        return [close_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "properties":
            out[k] = {name: close_schema(sub) for name, sub in v.items()}
        elif k in ("enum", "const", "default", "required"):
            out[k] = v
        else:
            out[k] = close_schema(v)
    if "properties" in out and "additionalProperties" not in out:
        out["unevaluatedProperties"] = False
    return out


def convert_spec(spec: dict) -> dict:
    """Converted copy of the parts of the document that hold schemas."""
    out = {"components": {"schemas": {}}, "paths": {}}
    for name, s in spec.get("components", {}).get("schemas", {}).items():
        out["components"]["schemas"][name] = convert_schema(s)
    for path, item in spec.get("paths", {}).items():
        conv_item = {}
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            conv_resps = {}
            for code, resp in op["responses"].items():
                content = resp.get("content") or {}
                conv_resps[code] = {
                    "content": {
                        ctype: {"schema": convert_schema(c.get("schema", {}))}
                        for ctype, c in content.items()
                    }
                }
            conv_item[method] = {"responses": conv_resps}
        out["paths"][path] = conv_item
    return out


# ---------------------------------------------------------------------------
# Validator class: strict integers, uuid format
# ---------------------------------------------------------------------------

def _is_strict_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer)
StrictValidator = extend(Draft202012Validator, type_checker=_TYPE_CHECKER)
_FORMATS = FormatChecker(formats=("uuid",))

ERROR_SHAPE = {
    "type": "object",
    "required": ["status", "time"],
    "properties": {
        "status": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "time": {"type": "number"},
    },
}

_ENVELOPE_KEYS = {"result", "status", "time"}


def _ptr_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def describe_errors(errors: list[ValidationError], limit: int = 8) -> str:
    """One line per error: JSON path of the offending field + reason. For
    anyOf/oneOf failures, the most relevant branch error is shown too."""
    lines = []
    for err in sorted(errors, key=lambda e: list(e.absolute_path))[:limit]:
        line = f"  at {err.json_path}: {err.message[:300]}"
        if err.context:
            deep = best_match(err.context)
            if deep is not None:
                line += f"\n      closest branch: at {deep.json_path}: {deep.message[:300]}"
        lines.append(line)
    if len(errors) > limit:
        lines.append(f"  ... and {len(errors) - limit} more")
    return "\n".join(lines)


class SchemaMismatch(AssertionError):
    pass


class OpenApiSpec:
    """One OpenAPI document, ready to validate responses of its routes."""

    def __init__(self, version: str, spec: dict | None = None):
        self.version = version
        self.raw = spec if spec is not None else load_spec(version)
        self.converted = convert_spec(self.raw)
        self.uri = f"urn:qdrant-openapi:v{version}"
        self.registry = Registry().with_resource(
            self.uri, Resource.from_contents(self.converted, default_specification=DRAFT202012))
        self._validators: dict = {}
        self.closed_uri = self.uri + ":closed"
        self.closed_registry = Registry().with_resource(
            self.closed_uri,
            Resource.from_contents(close_schema(self.converted), default_specification=DRAFT202012))

    # -- schema lookup -----------------------------------------------------
    def has_route(self, method: str, template: str) -> bool:
        return method.lower() in self.converted["paths"].get(template, {})

    def response_key(self, method: str, template: str, status: int) -> str | None:
        resps = self.converted["paths"][template][method.lower()]["responses"]
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in resps:
                return key
        return None

    def response_schema_pointer(self, method: str, template: str, key: str, ctype: str) -> str:
        return ("#/paths/" + _ptr_escape(template) + "/" + method.lower() + "/responses/"
                + _ptr_escape(key) + "/content/" + _ptr_escape(ctype) + "/schema")

    def response_schema(self, method: str, template: str, key: str, ctype: str):
        resp = self.converted["paths"][template][method.lower()]["responses"][key]
        return resp["content"].get(ctype, {}).get("schema")

    def validator_for(self, schema: dict):
        key = json.dumps(schema, sort_keys=True)
        v = self._validators.get(key)
        if v is None:
            v = StrictValidator(schema, registry=self.registry, format_checker=_FORMATS)
            self._validators[key] = v
        return v

    def ref_validator(self, pointer: str, extra: dict | None = None):
        schema: dict = {"$ref": self.uri + pointer}
        if extra:
            schema = {"allOf": [schema, extra]}
        return self.validator_for(schema)

    def component_validator(self, name: str):
        return self.ref_validator("#/components/schemas/" + _ptr_escape(name))

    def undeclared_fields(self, method: str, template: str, status: int, body: Any) -> list[str]:
        """JSON paths of object members the spec does not declare (the body
        is otherwise valid). Not a spec violation: OpenAPI objects are open."""
        key = self.response_key(method, template, status)
        if key is None or "application/json" not in self.converted["paths"][template][
                method.lower()]["responses"][key]["content"]:
            return []
        pointer = self.response_schema_pointer(method, template, key, "application/json")
        v = StrictValidator({"$ref": self.closed_uri + pointer}, registry=self.closed_registry,
                            format_checker=_FORMATS)
        found = []

        def walk(e):
            if e.validator == "unevaluatedProperties":
                found.append(f"{e.json_path}: {e.message}")
            elif e.context:
                walk(best_match(e.context))

        for err in v.iter_errors(body):
            walk(err)
        return sorted(set(found))

    # -- validation --------------------------------------------------------
    def errors(self, validator, body) -> list[ValidationError]:
        return list(validator.iter_errors(body))

    def check_response(self, method: str, template: str, status: int, body: Any,
                       content_type: str | None, what: str = "") -> None:
        """Raise SchemaMismatch (an AssertionError) describing every mismatch
        between the response and the spec."""
        ctx = f"{what or (method.upper() + ' ' + template)} -> HTTP {status} (spec v{self.version})"
        if not self.has_route(method, template):
            raise SchemaMismatch(f"{ctx}: route {method.upper()} {template} is not in the spec")
        key = self.response_key(method, template, status)
        if key is None:
            raise SchemaMismatch(f"{ctx}: the spec defines no response for status {status}")
        ctype = (content_type or "").split(";")[0].strip().lower()
        resp = self.converted["paths"][template][method.lower()]["responses"][key]
        content = resp["content"]
        success = 200 <= status < 300

        if success and "application/json" not in content:
            # text/plain (health endpoints) or no content declared
            if "text/plain" in content:
                if ctype != "text/plain":
                    raise SchemaMismatch(
                        f"{ctx}: spec declares text/plain, got Content-Type {content_type!r}")
                if not isinstance(body, str):
                    raise SchemaMismatch(f"{ctx}: expected a text body, got {body!r:.200}")
            return

        if ctype != "application/json":
            raise SchemaMismatch(
                f"{ctx}: expected Content-Type application/json, got {content_type!r}; "
                f"body: {str(body)[:300]!r}")
        if isinstance(body, _RawText):
            raise SchemaMismatch(f"{ctx}: body is not valid JSON: {str(body)[:300]!r}")

        problems = []
        if success:
            schema = content["application/json"]["schema"]
            extra = None
            props = set((schema or {}).get("properties", {}))
            if _ENVELOPE_KEYS <= props:
                extra = {"required": sorted(_ENVELOPE_KEYS),
                         "properties": {"status": {"const": "ok"}}}
            pointer = self.response_schema_pointer(method, template, key, "application/json")
            errs = self.errors(self.ref_validator(pointer, extra), body)
            if errs:
                problems.append(f"200 response schema ({key}):\n" + describe_errors(errs))
        else:
            if "application/json" in content:
                pointer = self.response_schema_pointer(method, template, key, "application/json")
                errs = self.errors(self.ref_validator(pointer), body)
                if errs:
                    problems.append(f"spec error schema ({key}):\n" + describe_errors(errs))
            errs = self.errors(self.validator_for(ERROR_SHAPE), body)
            if errs:
                problems.append('error shape {"status": {"error": str}, "time": number}:\n'
                                + describe_errors(errs))
        if problems:
            raise SchemaMismatch(
                f"{ctx}: response does not match the spec\n" + "\n".join(problems)
                + f"\n  body: {json.dumps(body)[:1500]}")


class _RawText(str):
    """A response body that could not be parsed as JSON."""


def parse_body(raw: bytes):
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return _RawText(text)
