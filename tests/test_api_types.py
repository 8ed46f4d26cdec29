"""frontend/src/api/types.d.ts is generated from the service's OpenAPI document (scripts/api_types.py): the web
app's JSDoc types, checked by tsc in scripts/test, are the API's own. This fails while the file is out of date."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_generator():
    spec = importlib.util.spec_from_file_location("api_types", REPO / "scripts" / "api_types.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_types_match_the_openapi_document():
    generator = load_generator()
    committed = generator.OUTPUT.read_text()
    assert committed == generator.generate(), (
        f"{generator.OUTPUT.relative_to(REPO)} is out of date: run {generator.REGENERATE} and commit the result"
    )


def test_every_schema_and_route_has_a_type():
    generator = load_generator()
    document = generator.openapi_document()
    text = generator.OUTPUT.read_text()
    for name in document["components"]["schemas"]:
        assert f" {generator.type_name(name)} " in text, name
    for path, operations in document["paths"].items():
        for method in operations:
            assert json.dumps(f"{method.upper()} {path}") in text, (method, path)
    assert "export type TrainingMessage = " in text  # the stream's messages, from shared/schemas


def test_json_schema_conversion():
    convert = load_generator().convert
    assert (
        convert({"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}) == "(number | null)[]"
    )
    assert convert({"enum": ["a", "b"]}) == '"a" | "b"'
    assert convert({"type": "object", "additionalProperties": {"type": "number"}}) == "Record<string, number>"
    assert convert({"type": "object", "properties": {"my-key": {"type": "string"}}, "required": ["my-key"]}) == (
        '{\n  "my-key": string;\n}'
    )
    assert convert({"$ref": "#/components/schemas/ProjectPublic"}) == "ProjectPublic"
    assert convert({"type": "string", "format": "binary"}) == "Blob"
    assert convert({}) == "unknown"
    # A condition TypeScript cannot express (pydantic's model_json_schema extras) leaves the object as it is.
    conditional = {
        "allOf": [{"if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["b"]}}],
        "type": "object",
        "properties": {"a": {"type": "integer"}},
    }
    assert convert(conditional) == "{\n  a?: number;\n}"
    assert convert({"allOf": [{"$ref": "#/components/schemas/A"}], "description": "x"}) == "A"


def test_check_mode_reports_an_outdated_file(tmp_path, monkeypatch):
    generator = load_generator()
    stale = tmp_path / "types.d.ts"
    stale.write_text("// old\n")
    monkeypatch.setattr(generator, "OUTPUT", stale)
    monkeypatch.setattr(generator, "REPO", tmp_path)
    monkeypatch.setattr(generator, "generate", lambda: "// new\n")
    monkeypatch.setattr(generator, "ERROR_CODES_OUTPUT", tmp_path / "error-codes.json")
    monkeypatch.setattr(generator, "error_codes_document", lambda: "{}\n")
    assert generator.main(["--check"]) == 1
    assert stale.read_text() == "// old\n"
    assert generator.main([]) == 0
    assert stale.read_text() == "// new\n"
    assert generator.main(["--check"]) == 0


def test_the_command_runs():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "api_types.py"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--check" in result.stdout


def test_committed_error_codes_are_every_code_the_backend_raises():
    generator = load_generator()
    codes, unreadable = generator.collect_error_codes()
    assert unreadable == [], "write these error codes out where they are raised (or use a *_CODES table)"
    committed = json.loads(generator.ERROR_CODES_OUTPUT.read_text())["codes"]
    assert committed == sorted(codes), (
        f"{generator.ERROR_CODES_OUTPUT.relative_to(REPO)} is out of date: run {generator.REGENERATE} and commit it"
    )
    # Raised in very different ways: a helper's argument, a default, a *_CODES table, an HTTP layer's code.
    for code in ("password_too_short", "invalid_network", "pdf_encrypted", "request_too_large", "invite_expired"):
        assert code in committed, code


def test_error_code_collection_reads_every_way_of_raising(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "service.py").write_text(
        "_LIMIT_CODES = {1: 'limit_one'}\n"
        "class Refused(Exception):\n    code = 'refused'\n"
        "def check(n, code='checked'):\n"
        "    raise invalid(f'{n} is wrong.', 'wrong_n', n=n)\n"
        "def other(status):\n"
        "    raise conflict('Busy.', code=_LIMIT_CODES[status])\n"
        "def guessed(status):\n"
        "    raise invalid('No.', f'bad_{status}')\n"
        "def plain():\n    raise DomainError(ErrorKind.FORBIDDEN, 'No.')\n"
    )
    codes, unreadable = load_generator().collect_error_codes(package)
    assert codes == {"limit_one", "refused", "checked", "wrong_n", "forbidden"}
    assert len(unreadable) == 1 and "bad_{status}" in unreadable[0]
