"""Writes frontend/src/api/types.d.ts: TypeScript types of every API payload, generated from the service's own
OpenAPI document (create_app().openapi()) and from the training stream's JSON Schema in shared/schemas/. The web
app's JSDoc imports them (`@typedef {import("./api/types").ProjectPublic} ProjectPublic`) and tsc checks the
app against them, so a renamed or removed field breaks `scripts/test` instead of a student's screen.

Also writes shared/schemas/error-codes.json: every error `code` the backend can answer with, collected from its
source (collect_error_codes); the web app must have a German and an English text for each.

    .venv/bin/python scripts/api_types.py           # regenerate (after any change to a schema or a route)
    .venv/bin/python scripts/api_types.py --check   # exit 1 if the committed file is out of date

tests/test_api_types.py fails while a committed file is out of date.
"""

import argparse
import ast
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "frontend" / "src" / "api" / "types.d.ts"
STREAM_SCHEMAS = {"TrainingMessage": REPO / "shared" / "schemas" / "training-message.schema.json"}
ERROR_CODES_OUTPUT = REPO / "shared" / "schemas" / "error-codes.json"
PACKAGE = REPO / "backend" / "digitlab"
REGENERATE = ".venv/bin/python scripts/api_types.py"

Schema = dict[str, Any]


def openapi_document() -> Schema:
    """The OpenAPI document exactly as /openapi.json serves it, independent of this machine's DIGITLAB_ settings."""
    from digitlab.core.config import Settings
    from digitlab.main import create_app

    saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith("DIGITLAB_")}
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(_env_file=None, data_dir=Path(data_dir))
            return create_app(settings, run_jobs=False).openapi()
    finally:
        os.environ.update(saved)


def type_name(ref: str) -> str:
    """#/components/schemas/Body_upload_scans_api_projects__project_id__scans_post -> a TypeScript name."""
    return re.sub(r"\W", "_", ref.rsplit("/", 1)[-1])


def literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def comment(text: str | None, indent: str) -> str:
    if not text:
        return ""
    lines = text.strip().replace("*/", "*\\/").splitlines()
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    return f"{indent}/**\n" + "".join(f"{indent} * {line}".rstrip() + "\n" for line in lines) + f"{indent} */\n"


def union(members: list[str]) -> str:
    unique = list(dict.fromkeys(members))
    if "unknown" in unique:
        return "unknown"
    return " | ".join(unique) if unique else "never"


def wrap(ts: str) -> str:
    """Parenthesise a union or intersection before [] or &."""
    return f"({ts})" if (" | " in ts or " & " in ts) and not ts.startswith("{") else ts


def convert(schema: Schema | bool, indent: str = "") -> str:
    """One JSON Schema (the subset pydantic and our shared/ schemas use) as a TypeScript type expression."""
    if schema is True or schema == {}:
        return "unknown"
    if schema is False:
        return "never"
    assert isinstance(schema, dict)
    if "$ref" in schema:
        return type_name(schema["$ref"])
    if "const" in schema:
        return literal(schema["const"])
    if "enum" in schema:
        return union([literal(value) for value in schema["enum"]])
    if "allOf" in schema:
        # Each part narrows the rest; parts TypeScript cannot say (if/then/else) are left to the server.
        parts = [convert({key: value for key, value in schema.items() if key != "allOf"}, indent)]
        parts += [convert(part, indent) for part in schema["allOf"]]
        known = [part for part in dict.fromkeys(parts) if part != "unknown"]
        return " & ".join(wrap(part) for part in known) if known else "unknown"
    for key in ("anyOf", "oneOf"):
        if key in schema and "properties" not in schema and "type" not in schema:
            return union([convert(part, indent) for part in schema[key]])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return union([convert({**schema, "type": kind}, indent) for kind in kinds])
    if kinds == "string":
        binary = schema.get("format") == "binary" or "contentMediaType" in schema
        return "Blob" if binary else "string"
    if kinds in ("integer", "number"):
        return "number"
    if kinds == "boolean":
        return "boolean"
    if kinds == "null":
        return "null"
    if kinds == "array":
        if "prefixItems" in schema:
            return "[" + ", ".join(convert(item, indent) for item in schema["prefixItems"]) + "]"
        return wrap(convert(schema.get("items", True), indent)) + "[]"
    if kinds == "object" or "properties" in schema:
        base = object_type(schema, indent)
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives:
            return base + " & (" + " | ".join(convert(part, indent) for part in alternatives) + ")"
        return base
    return "unknown"


def object_type(schema: Schema, indent: str) -> str:
    properties: dict[str, Schema] = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties")
    if not properties:
        if extra in (None, True, {}):
            return "Record<string, unknown>"
        return f"Record<string, {convert(extra, indent)}>" if extra is not False else "Record<string, never>"
    inner = indent + "  "
    lines = []
    for name, prop in properties.items():
        key = name if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else literal(name)
        optional = "" if name in required else "?"
        lines.append(
            comment(prop.get("description") if isinstance(prop, dict) else None, inner)
            + f"{inner}{key}{optional}: {convert(prop, inner)};\n"
        )
    if extra not in (None, False):
        lines.append(f"{inner}[key: string]: unknown;\n")
    return "{\n" + "".join(lines) + indent + "}"


def declaration(name: str, schema: Schema) -> str:
    text = comment(schema.get("description"), "")
    body = convert(schema)
    if body.startswith("{\n") and body.endswith("}"):
        return text + f"export interface {name} {body}\n"
    return text + f"export type {name} = {body};\n"


def payload(content: dict[str, Schema] | None, default: str) -> str:
    """A request or response body by media type: JSON as its schema, forms as FormData, files as Blob."""
    if not content:
        return default
    if "application/json" in content:
        return convert(content["application/json"].get("schema", True), "    ")
    if "multipart/form-data" in content:
        return "FormData"
    if "application/x-www-form-urlencoded" in content:
        return "URLSearchParams"
    return "Blob"


def routes(document: Schema) -> str:
    lines = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = payload(operation.get("requestBody", {}).get("content"), "never")
            success = sorted(status for status in operation["responses"] if status.startswith("2"))
            response = union(
                [
                    payload(operation["responses"][status].get("content"), "null" if status == "204" else "unknown")
                    for status in success
                ]
            )
            lines.append(
                comment(operation.get("summary"), "  ")
                + f"  {literal(method.upper() + ' ' + path)}: {{ body: {body}; response: {response} }};\n"
            )
    return (
        '/** Every route: its request body and its success response, keyed "METHOD /path/{param}". */\n'
        "export interface Routes {\n" + "".join(lines) + "}\n"
    )


def generate(document: Schema | None = None) -> str:
    document = document or openapi_document()
    parts = [
        "// Generated by scripts/api_types.py from the API's OpenAPI document and shared/schemas/: do not edit.\n"
        f"// After changing a schema or a route, regenerate it: {REGENERATE}\n",
    ]
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        parts.append(declaration(type_name(name), schema))
    for name, path in STREAM_SCHEMAS.items():
        schema = json.loads(path.read_text())
        schema.setdefault("description", f"{schema.get('title', name)} ({path.relative_to(REPO)})")
        parts.append(declaration(name, schema))
    parts.append(routes(document))
    return "\n".join(parts)


# Where each raiser of a domain error takes its code: the positional index (a `code=` keyword always counts).
CODE_ARGUMENT = {
    "invalid": 1,
    "conflict": 1,
    "too_large": 1,
    "unsupported": 1,
    "not_authenticated": 1,
    "DomainError": 2,
    "JobError": 1,
    "error_response": 2,
    "ImageRejected": 0,
    "GridNotFound": 1,
    "SheetProblem": 0,
    "ArchitectureError": 3,
    "Reason": 0,
}


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_code_table(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id.endswith("_CODES")


def collect_error_codes(package: Path = PACKAGE) -> tuple[set[str], list[str]]:
    """Every error `code` the backend can answer with, read from its source: the codes given to the raisers in
    CODE_ARGUMENT, the string defaults of parameters named `code`, class attributes `code = "..."`, and the
    strings of module-level tables named *_CODES. Also returns the places whose code cannot be read (an
    f-string, a computed value): a code must be written out where it is raised, or come through a variable
    named `code`/`.code` or a *_CODES table, so that this list stays complete."""
    codes: set[str] = set()
    unreadable: list[str] = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent).as_posix()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if isinstance(func, ast.Attribute) and func.attr == "get" and _is_code_table(func.value):
                    codes.update(s for arg in node.args if (s := _string(arg)) is not None)  # a table's fallback
                if name not in CODE_ARGUMENT:
                    continue
                arg = next((k.value for k in node.keywords if k.arg == "code"), None)
                if arg is None and len(node.args) > CODE_ARGUMENT[name]:
                    arg = node.args[CODE_ARGUMENT[name]]
                if arg is None:  # the raiser's default, collected from its definition; DomainError: the kind's
                    if name == "DomainError" and isinstance(node.args[0], ast.Attribute):
                        codes.add(node.args[0].attr.lower())
                elif (code := _string(arg)) is not None:
                    codes.add(code)
                elif not (
                    (isinstance(arg, ast.Name) and arg.id == "code")
                    or (isinstance(arg, ast.Attribute) and arg.attr == "code")
                    or (isinstance(arg, ast.Subscript) and _is_code_table(arg.value))
                ):
                    unreadable.append(f"{where}:{node.lineno}: {ast.unparse(arg)}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                defaults = [*zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)]
                for param, default in [*defaults, *zip(args.kwonlyargs, args.kw_defaults, strict=True)]:
                    if param.arg == "code" and (code := _string(default)) is not None:
                        codes.add(code)
            elif isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if not (isinstance(stmt, ast.Assign) and [ast.unparse(t) for t in stmt.targets] == ["code"]):
                        continue
                    if (code := _string(stmt.value)) is not None:
                        codes.add(code)
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(_is_code_table(target) for target in targets):
                    codes.update(s for c in ast.walk(stmt.value) if (s := _string(c)) is not None)
    return codes, unreadable


def error_codes_document() -> str:
    codes, unreadable = collect_error_codes()
    if unreadable:
        raise SystemExit("error codes that cannot be read from the source:\n" + "\n".join(unreadable))
    document = {
        "description": (
            "Every `code` of the API's error answers ({detail, code, ...}). Generated by scripts/api_types.py "
            "from the backend's source: do not edit. The web app has a German and an English text for each "
            "(tests/frontend/i18n.test.js)."
        ),
        "codes": sorted(codes),
    }
    return json.dumps(document, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    args = parser.parse_args(argv)
    stale = 0
    for output, text in ((OUTPUT, generate()), (ERROR_CODES_OUTPUT, error_codes_document())):
        current = output.read_text() if output.exists() else ""
        if text == current:
            print(f"{output.relative_to(REPO)} is up to date")
        elif args.check:
            print(f"{output.relative_to(REPO)} is out of date: run {REGENERATE}", file=sys.stderr)
            stale = 1
        else:
            output.write_text(text)
            print(f"wrote {output.relative_to(REPO)}")
    return stale


if __name__ == "__main__":
    sys.exit(main())
