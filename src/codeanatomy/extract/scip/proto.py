"""The SCIP messages CodeAnatomy reads, declared here with ``descriptor_pb2``.

SCIP (``scip.proto``, the Sourcegraph code intelligence protocol) is a small public
schema; only the messages an index's documents and symbols need are declared, with the
field numbers of the protocol. Enum-typed fields are read as ``int32``: proto3 enums are
open varints on the wire, so the values arrive unchanged and the few names CodeAnatomy
shows are mapped where they are used. Unknown fields (newer protocol versions) are
skipped by the decoder, never an error.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FDP = descriptor_pb2.FieldDescriptorProto
_OPTIONAL = _FDP.LABEL_OPTIONAL
_REPEATED = _FDP.LABEL_REPEATED
_TYPES = {
    "string": _FDP.TYPE_STRING,
    "int32": _FDP.TYPE_INT32,
    "bool": _FDP.TYPE_BOOL,
}

# message -> (field name, number, type or message name, repeated)
_MESSAGES: tuple[tuple[str, tuple[tuple[str, int, str, bool], ...]], ...] = (
    ("ToolInfo", (("name", 1, "string", False), ("version", 2, "string", False))),
    (
        "Metadata",
        (
            ("version", 1, "int32", False),
            ("tool_info", 2, "ToolInfo", False),
            ("project_root", 3, "string", False),
            ("text_document_encoding", 4, "int32", False),
        ),
    ),
    (
        "Diagnostic",
        (
            ("severity", 1, "int32", False),
            ("code", 2, "string", False),
            ("message", 3, "string", False),
            ("source", 4, "string", False),
        ),
    ),
    (
        "Occurrence",
        (
            ("range", 1, "int32", True),
            ("symbol", 2, "string", False),
            ("symbol_roles", 3, "int32", False),
            ("syntax_kind", 5, "int32", False),
            ("diagnostics", 6, "Diagnostic", True),
            ("enclosing_range", 7, "int32", True),
        ),
    ),
    (
        "Relationship",
        (
            ("symbol", 1, "string", False),
            ("is_reference", 2, "bool", False),
            ("is_implementation", 3, "bool", False),
            ("is_type_definition", 4, "bool", False),
            ("is_definition", 5, "bool", False),
        ),
    ),
    (
        "SymbolInformation",
        (
            ("symbol", 1, "string", False),
            ("documentation", 3, "string", True),
            ("relationships", 4, "Relationship", True),
            ("kind", 5, "int32", False),
            ("display_name", 6, "string", False),
            ("enclosing_symbol", 8, "string", False),
        ),
    ),
    (
        "Document",
        (
            ("relative_path", 1, "string", False),
            ("occurrences", 2, "Occurrence", True),
            ("symbols", 3, "SymbolInformation", True),
            ("language", 4, "string", False),
            ("position_encoding", 6, "int32", False),
        ),
    ),
)

PACKAGE = "codeanatomy.scip"

# ``Index`` fields, read one at a time by the streaming reader (never as one message).
INDEX_METADATA = 1
INDEX_DOCUMENTS = 2
INDEX_EXTERNAL_SYMBOLS = 3

# The definition bit of symbol roles, and the names of two enums of the protocol.
ROLE_DEFINITION = 0x1
POSITION_ENCODINGS = ("unspecified", "utf8", "utf16", "utf32")
SEVERITIES = ("unspecified", "error", "warning", "information", "hint")


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(
        name="codeanatomy_scip.proto", package=PACKAGE, syntax="proto3"
    )
    for message_name, fields in _MESSAGES:
        message = proto.message_type.add(name=message_name)
        for field_name, number, kind, repeated in fields:
            field = message.field.add(
                name=field_name, number=number, label=_REPEATED if repeated else _OPTIONAL
            )
            if kind in _TYPES:
                field.type = _TYPES[kind]
            else:
                field.type = _FDP.TYPE_MESSAGE
                field.type_name = f".{PACKAGE}.{kind}"
    return proto


def _classes() -> dict[str, type[Any]]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file())
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
        for name, _ in _MESSAGES
    }


_CLASSES = _classes()
Metadata = _CLASSES["Metadata"]
Document = _CLASSES["Document"]
SymbolInformation = _CLASSES["SymbolInformation"]
