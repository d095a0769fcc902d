"""Walk the GES OpenAPI document for the tests: pointers, examples, validators."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

import openapi

DOCUMENT_URI = "urn:test-ges-management-v1"
METHODS = ("get", "put", "post", "delete", "patch")


@functools.cache
def spec() -> dict[str, Any]:
    return openapi.load_spec()


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def node_at(pointer: str) -> Any:
    node: Any = spec()
    for part in pointer.lstrip("/").split("/") if pointer else ():
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def follow(pointer: str) -> str:
    """Return the pointer reached by following `$ref`s from `pointer`."""
    while isinstance(node_at(pointer), dict) and "$ref" in node_at(pointer):
        pointer = node_at(pointer)["$ref"][1:]
    return pointer


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resource = referencing.Resource.from_contents(
        spec(), default_specification=referencing.jsonschema.DRAFT202012
    )
    return referencing.Registry().with_resource(DOCUMENT_URI, resource)


@functools.cache
def validator_at(pointer: str) -> jsonschema.Validator:
    """Validator for the schema at `pointer`, its `$ref`s resolved in the document."""
    schema = {"$ref": f"{DOCUMENT_URI}#{pointer}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def operation_pointers() -> Iterator[tuple[str, str, str]]:
    """Yield (operationId, path-item pointer, operation pointer) per operation."""
    for path, item in spec()["paths"].items():
        item_pointer = f"/paths/{escape(path)}"
        for method in METHODS:
            if method in item:
                yield (
                    item[method]["operationId"],
                    item_pointer,
                    f"{item_pointer}/{method}",
                )


def parameter_pointers(item_pointer: str, operation_pointer: str) -> list[str]:
    """Pointers of every parameter of an operation, `$ref`s followed."""
    pointers = []
    for owner in (item_pointer, operation_pointer):
        for index, _ in enumerate(node_at(owner).get("parameters", [])):
            pointers.append(follow(f"{owner}/parameters/{index}"))
    return pointers


def media_examples(media_pointer: str) -> Iterator[tuple[str, Any]]:
    """Yield (label, value) for the `example` and `examples` of a media type."""
    media = node_at(media_pointer)
    if "example" in media:
        yield media_pointer, media["example"]
    for name in media.get("examples", {}):
        pointer = follow(f"{media_pointer}/examples/{escape(name)}")
        yield f"{media_pointer}/examples/{name}", node_at(pointer)["value"]


def response_pointer(operation_pointer: str, status: str) -> str:
    return follow(f"{operation_pointer}/responses/{status}")


def json_media(pointer: str) -> str:
    return f"{pointer}/content/application~1json"


def all_examples() -> Iterator[tuple[str, str, Any]]:
    """Yield (label, schema pointer, example value) for every example in the document."""
    for _, item_pointer, operation_pointer in operation_pointers():
        for parameter in parameter_pointers(item_pointer, operation_pointer):
            if "example" in node_at(parameter):
                yield parameter, f"{parameter}/schema", node_at(parameter)["example"]
        operation = node_at(operation_pointer)
        if "requestBody" in operation:
            media = json_media(follow(f"{operation_pointer}/requestBody"))
            for label, value in media_examples(media):
                yield label, f"{media}/schema", value
    for name in spec()["components"]["responses"]:
        media = json_media(f"/components/responses/{name}")
        for label, value in media_examples(media):
            yield label, f"{media}/schema", value
    for _, _, operation_pointer in operation_pointers():
        for status in node_at(operation_pointer)["responses"]:
            pointer = f"{operation_pointer}/responses/{status}"
            if "$ref" in node_at(pointer):
                continue
            media = json_media(pointer)
            for label, value in media_examples(media):
                yield label, f"{media}/schema", value
