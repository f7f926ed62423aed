"""GitHub's published OpenAPI description, and a check of what a fake exchanged
against it: each request's query parameters and body, and each answer's status and
body against the schema of the operation's response for that status.

The description is the npm package @octokit/openapi (GitHub's own description from
github/rest-api-description, with Octokit's extensions), pinned to VERSION and to
the tarball's INTEGRITY (the registry's ``dist.integrity`` for that version, which a
download also checks against the registry's metadata). It is fetched with Python
(no npm needed) once, on the first test session that needs it, and only
``package/generated/api.github.com.json`` is kept, under ``var/cache/`` (ignored by
git), with the SHA-256 it had, checked on each use. A download that cannot be made
raises Unavailable; a tarball whose integrity differs is refused (RuntimeError),
never used.

Why plain ``jsonschema`` (Draft 4 with OAS 3.0's ``nullable`` and
``discriminator``, below) and not openapi-core or openapi-schema-validator:
openapi-core finds the operation by matching every request against all of the
description's 800 paths and resolves references through its own path objects on
each validation, which is slow on a 13 MB description, and it would be a large new
dependency for what the tests need; openapi-schema-validator's OAS 3.0 validator
refuses ``null`` for a ``nullable`` property that has an ``enum`` (GitHub's
``state_reason`` is one, and real answers carry null there), and its current
version pulls in pydantic. jsonschema (with ``referencing``) is already installed
for drf-spectacular and schemathesis; the OAS 3.0 dialect is three keyword wrappers
here. The description is parsed once per test session (about 0.2 s), each
operation's validator is built on first use, and an item of a list (an issue) is
validated once per distinct content, so repeated reads cost nothing.
"""

import base64
import fcntl
import hashlib
import json
import re
import tarfile
import tempfile
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

PACKAGE = "@octokit/openapi"
VERSION = "23.0.2"
INTEGRITY = "sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg=="
REGISTRY = "https://registry.npmjs.org"
TARBALL = f"{REGISTRY}/@octokit/openapi/-/openapi-{VERSION}.tgz"
METADATA = f"{REGISTRY}/{quote(PACKAGE, safe='@')}/{VERSION}"
MEMBER = "package/generated/api.github.com.json"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "cache" / f"octokit-openapi-{VERSION}"
TIMEOUT = 120
URI = "urn:syncweb:github-openapi"


class Unavailable(Exception):
    """The description could not be had here (no network to the npm registry)."""


# --- fetching ------------------------------------------------------------------------


def description_file(cache: Path = CACHE) -> Path:
    """The description's JSON file, fetched and checked on first use."""
    target = cache / "api.github.com.json"
    record = cache / "sha256"
    if _intact(target, record):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:  # one download, whatever the test processes
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _intact(target, record):
            return target
        data = _download()
        with tarfile.open(fileobj=_BytesReader(data), mode="r|gz") as archive:
            for member in archive:
                if member.name == MEMBER:
                    content = archive.extractfile(member).read()
                    break
            else:
                raise RuntimeError(f"{PACKAGE} {VERSION} has no {MEMBER}")
        json.loads(content)  # whole and readable, or nothing is kept
        with tempfile.NamedTemporaryFile(dir=cache, delete=False) as partial:
            partial.write(content)
        Path(partial.name).chmod(0o644)
        Path(partial.name).replace(target)
        record.write_text(hashlib.sha256(content).hexdigest())
    return target


def _intact(target: Path, record: Path) -> bool:
    if not (target.is_file() and record.is_file()):
        return False
    return hashlib.sha256(target.read_bytes()).hexdigest() == record.read_text().strip()


def _download() -> bytes:
    """The tarball, once its integrity is the pinned one and the registry's."""
    try:
        with urllib.request.urlopen(METADATA, timeout=TIMEOUT) as answer:  # noqa: S310  (a fixed https URL)
            published = json.load(answer).get("dist", {}).get("integrity")
        with urllib.request.urlopen(TARBALL, timeout=TIMEOUT) as answer:  # noqa: S310
            data = answer.read()
    except OSError as exc:  # URLError, timeouts, refused connections
        raise Unavailable(f"cannot download {PACKAGE} {VERSION} from the npm registry: {exc}") from exc
    if published != INTEGRITY:
        raise RuntimeError(
            f"the npm registry gives {PACKAGE} {VERSION} the integrity {published!r}, not the pinned one"
        )
    actual = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != INTEGRITY:
        raise RuntimeError(f"{TARBALL} has the integrity {actual}, not the pinned {INTEGRITY}: refused")
    return data


class _BytesReader:
    """A file over bytes, for tarfile's stream mode."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else self.at + size
        chunk, self.at = self.data[self.at : end], min(end, len(self.data))
        return chunk


# --- OAS 3.0's schema dialect on jsonschema ------------------------------------------------

_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


@FORMATS.checks("uri")
def _uri(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value


@FORMATS.checks("email")
def _email(value) -> bool:
    return not isinstance(value, str) or "@" in value


def _nullable(check):
    """OAS 3.0: ``nullable: true`` lets null through the keywords beside it."""

    def wrapped(validator, value, instance, schema):
        if instance is None and schema.get("nullable") is True:
            return
        yield from check(validator, value, instance, schema)

    return wrapped


def _discriminated(check):
    """OAS 3.0: a ``discriminator`` beside oneOf/anyOf picks the one schema."""

    def wrapped(validator, value, instance, schema):
        if instance is None and schema.get("nullable") is True:
            return
        discriminator = schema.get("discriminator")
        if discriminator and isinstance(instance, dict):
            name = discriminator["propertyName"]
            ref = (discriminator.get("mapping") or {}).get(instance.get(name))
            if ref is None:
                yield ValidationError(f"{instance.get(name)!r} is no value of the discriminator {name!r}")
                return
            yield from validator.descend(instance, {"$ref": ref})
            return
        yield from check(validator, value, instance, schema)

    return wrapped


OAS30Validator = validators.extend(
    Draft4Validator,
    {
        **{name: _nullable(Draft4Validator.VALIDATORS[name]) for name in ("type", "enum", "format", "allOf")},
        "oneOf": _discriminated(Draft4Validator.VALIDATORS["oneOf"]),
        "anyOf": _discriminated(Draft4Validator.VALIDATORS["anyOf"]),
    },
)


# --- checking exchanges ---------------------------------------------------------------------


@dataclass
class Operation:
    """One operation of the description: its method, path template and JSON pointer."""

    method: str
    template: str
    pointer: str  # JSON pointer of the operation in the description
    spec: dict


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class Description:
    """GitHub's OpenAPI description, parsed; ``problems(exchanges)`` says what in
    them it does not allow."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.version = spec.get("info", {}).get("version", "")
        self.registry = Registry().with_resource(URI, Resource.from_contents(spec, default_specification=DRAFT4))
        self._validators: dict[str, Draft4Validator] = {}
        self._valid: set[tuple[str, str]] = set()
        self._operations: list[tuple[re.Pattern, int, Operation]] = []
        for template, item in spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            for method, operation in item.items():
                if method in ("get", "put", "post", "patch", "delete", "head", "options"):
                    pointer = f"/paths/{_escape(template)}/{method}"
                    self._operations.append((pattern, literal, Operation(method.upper(), template, pointer, operation)))
        # The most literal template first: /repos/{owner}/{repo}/issues before /repos/{owner}/{repo}/{x}.
        self._operations.sort(key=lambda entry: -entry[1])

    @classmethod
    def load(cls, cache: Path = CACHE) -> "Description":
        """The description, fetched on first use (description_file())."""
        return cls(json.loads(description_file(cache).read_bytes()))

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method`` on ``path`` (the most literal template first), or None."""
        for pattern, _, operation in self._operations:
            if operation.method == method and pattern.match(path):
                return operation
        return None

    def problems(self, exchanges: Iterable) -> list[str]:
        """What the description does not allow in ``exchanges`` (each with a
        ``request`` and a ``response`` as tests/fakes record them)."""
        found = []
        for exchange in exchanges:
            request, response = exchange.request, exchange.response
            where = f"{request.method} {request.path} -> {response.status}"
            found += [f"{where}: {problem}" for problem in self.check(request, response)]
        return found

    def check(self, request, response) -> list[str]:
        """What the description does not allow in one request and its answer, in words."""
        operation = self.operation(request.method, request.path)
        problems = []
        if operation is None:
            problems.append("no operation of GitHub's description serves this request")
            if response.status >= 400:
                problems += self._validate("/components/schemas/basic-error", self._body(response, problems))
            return problems
        problems += self._check_request(operation, request)
        problems += self._check_response(operation, request, response)
        return [f"({operation.spec.get('operationId')}) {problem}" for problem in problems]

    # --- requests -----------------------------------------------------------------------

    def _parameters(self, operation: Operation) -> dict[tuple[str, str], tuple[dict, str]]:
        """(place, name) -> (the parameter, its JSON pointer)."""
        parameters = {}
        for index, parameter in enumerate(operation.spec.get("parameters", [])):
            pointer = f"{operation.pointer}/parameters/{index}"
            if "$ref" in parameter:
                pointer = parameter["$ref"][1:]
                parameter = self._resolve(parameter["$ref"])
            parameters[(parameter["in"], parameter["name"])] = (parameter, pointer)
        return parameters

    def _check_request(self, operation: Operation, request) -> list[str]:
        problems = []
        parameters = self._parameters(operation)
        for name, values in request.query.items():
            if ("query", name) not in parameters:
                problems.append(f"query parameter {name!r} is not one of the operation's")
                continue
            parameter, pointer = parameters[("query", name)]
            for value in values:
                typed = _typed(value, parameter.get("schema", {}))
                problems += [
                    f"query parameter {name}={value!r}: {p}" for p in self._validate(f"{pointer}/schema", typed)
                ]
        for (place, name), (parameter, _) in parameters.items():
            if place == "query" and parameter.get("required") and name not in request.query:
                problems.append(f"the required query parameter {name!r} is missing")
        body = operation.spec.get("requestBody")
        if request.body:
            if body is None:
                problems.append("a request body, which the operation does not take")
            else:
                schema = body.get("content", {}).get("application/json", {}).get("schema")
                data = request.json
                if data is None:
                    problems.append("a request body that is not JSON")
                elif schema is not None:
                    pointer = f"{operation.pointer}/requestBody/content/application~1json/schema"
                    problems += [f"request body: {p}" for p in self._validate(pointer, data)]
        elif body is not None and body.get("required"):
            problems.append("no request body, which the operation requires")
        return problems

    # --- answers ------------------------------------------------------------------------

    def _check_response(self, operation: Operation, request, response) -> list[str]:
        status = str(response.status)
        responses = operation.spec.get("responses", {})
        documented = responses.get(status) or responses.get("default")
        problems: list[str] = []
        if status == "304":
            # Conditional requests are documented for every GET apart from the
            # operations (REST API best practices): a 304 answers If-None-Match (or
            # If-Modified-Since), without a body.
            if request.method != "GET" or not {"if-none-match", "if-modified-since"} & set(request.headers):
                problems.append("a 304 to a request that was not conditional")
            if response.body not in (None, b"", ""):
                problems.append("a 304 with a body")
            return problems
        if documented is None:
            if response.status >= 400:
                # Errors any operation may give (rate limits, 401) are documented
                # apart from the operations: their body is GitHub's basic error.
                return problems + self._validate("/components/schemas/basic-error", self._body(response, problems))
            return [f"status {status} is not documented for this operation"]
        pointer = f"{operation.pointer}/responses/{status if status in responses else 'default'}"
        if "$ref" in documented:
            pointer = documented["$ref"][1:]
            documented = self._resolve(documented["$ref"])
        content = documented.get("content", {})
        if "application/json" not in content:
            if response.body not in (None, b"", ""):
                problems.append("a body, where the description documents none")
            return problems
        content_type = response.headers.get("Content-Type", "application/json")
        if not content_type.startswith("application/json"):
            problems.append(f"Content-Type {content_type!r}, not JSON")
        body = self._body(response, problems)
        schema_pointer = f"{pointer}/content/application~1json/schema"
        schema = self._resolve("#" + schema_pointer)
        if isinstance(body, list) and schema.get("type") == "array" and "items" in schema:
            for index, item in enumerate(body):
                problems += [f"item {index}: {p}" for p in self._validate(f"{schema_pointer}/items", item)]
            return problems
        return problems + self._validate(schema_pointer, body)

    @staticmethod
    def _body(response, problems: list[str]):
        body = response.body
        if isinstance(body, bytes | str):
            try:
                return json.loads(body)
            except ValueError:
                problems.append("a body that is not JSON")
                return None
        return json.loads(json.dumps(body))  # as it went over the wire

    # --- schemas ------------------------------------------------------------------------

    def _resolve(self, ref: str) -> dict:
        node = self.spec
        for segment in ref.lstrip("#/").split("/"):
            node = node[segment.replace("~1", "/").replace("~0", "~")]
        return node

    def _validator(self, pointer: str) -> Draft4Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            schema = {"$ref": f"{URI}#{pointer}"}
            validator = OAS30Validator(schema, registry=self.registry, format_checker=FORMATS)
            self._validators[pointer] = validator
        return validator

    def _validate(self, pointer: str, instance) -> list[str]:
        """What is wrong with ``instance`` under the schema at ``pointer`` (each
        distinct instance is validated once per schema)."""
        seen = (pointer, hashlib.sha256(json.dumps(instance, sort_keys=True).encode()).hexdigest())
        if seen in self._valid:
            return []
        errors = sorted(self._validator(pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
        if not errors:
            self._valid.add(seen)
        return [f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}" for error in errors]


def _typed(value: str, schema: dict):
    """A query parameter's text as the type its schema says."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value
