"""docs/schemas/*.json and the field tables of docs/contract.md, generated from the types.

    uv run python -m app.contracts.docs           # rewrite them
    uv run python -m app.contracts.docs --check   # exit 1 if a committed file is stale

In docs/contract.md every topic of :data:`app.contracts.registry.TOPICS` has a block
``<!-- contract: <topic> -->`` ... ``<!-- /contract -->``, whose content is generated (the
prose around it is written by hand). A unit test runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from app.contracts.dead_letters import header_name
from app.contracts.registry import TOPICS, TopicContract

__all__ = [
    "CONTRACT_MD",
    "SCHEMAS_DIR",
    "render_contract_md",
    "render_schemas",
    "schema_file",
    "stale_files",
]

ROOT: Final = Path(__file__).resolve().parents[2]
CONTRACT_MD: Final = ROOT / "docs" / "contract.md"
SCHEMAS_DIR: Final = ROOT / "docs" / "schemas"

_BLOCK = re.compile(
    r"(<!-- contract: (?P<topic>.+?) -->\n)(?P<body>.*?)(<!-- /contract -->)", re.DOTALL
)


def schema_file(contract: TopicContract) -> str:
    """``keepa.products.json``; ``quotes-changelog.json`` for ``<app id>-quotes-changelog``."""
    return contract.topic.removeprefix("<app id>-") + ".json"


def _schema(contract: TopicContract) -> dict[str, Any]:
    part = "value" if contract.value is not None else "headers (the value is the original bytes)"
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": contract.topic,
        "description": f"The {part} of a message on {contract.topic}; key: {contract.key}.",
    }
    schema.update(msgspec.json.schema(contract.type))
    return schema


def render_schemas() -> dict[str, str]:
    """File name -> content of every JSON Schema."""
    return {
        schema_file(c): json.dumps(_schema(c), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for c in TOPICS
    }


def _type(info: mi.Type) -> str:
    if isinstance(info, mi.Metadata):
        return _type(info.type)
    if isinstance(info, mi.UnionType):
        return " or ".join(_type(t) for t in info.types)
    if isinstance(info, mi.NoneType):
        return "null"
    if isinstance(info, mi.BoolType):
        return "bool"
    if isinstance(info, mi.IntType):
        return "int > 0" if info.gt == 0 else "int"
    if isinstance(info, mi.FloatType):
        return "number"
    if isinstance(info, mi.StrType):
        return f"string `{info.pattern}`" if info.pattern else "string"
    if isinstance(info, mi.DecimalType):
        return "decimal string"
    if isinstance(info, mi.DateTimeType):
        return "ISO-8601 time with zone" if info.tz else "ISO-8601 time"
    if isinstance(info, mi.DateType):
        return "ISO-8601 date"
    if isinstance(info, mi.ListType):
        return f"list of {_type(info.item_type)}"
    if isinstance(info, mi.LiteralType):
        return " / ".join(f"`{json.dumps(v)}`" for v in info.values)
    if isinstance(info, mi.EnumType):
        return " / ".join(f"`{m.value}`" for m in info.cls)
    if isinstance(info, mi.DictType):
        return f"object: {_type(info.key_type)} -> {_type(info.value_type)}"
    if isinstance(info, mi.StructType | mi.DataclassType):
        return f"`{info.cls.__name__}`"
    if isinstance(info, mi.AnyType):
        return "any JSON"
    raise TypeError(f"no rendering for {info!r}")


def _description(info: mi.Type) -> str:
    if isinstance(info, mi.Metadata) and info.extra_json_schema:
        return str(info.extra_json_schema.get("description", ""))
    return ""


def _default(field: mi.Field) -> str:
    if field.required:
        return "yes"
    if field.default_factory is not msgspec.NODEFAULT:
        return f"no (`{json.dumps(msgspec.to_builtins(field.default_factory()))}`)"
    if field.default is msgspec.NODEFAULT:  # msgspec.UNSET: left out when not set
        return "no (absent)"
    return f"no (`{json.dumps(msgspec.to_builtins(field.default))}`)"


def _rows(info: mi.StructType, prefix: str = "", *, headers: bool = False) -> list[str]:
    rows = []
    for field in info.fields:
        kind = field.type.type if isinstance(field.type, mi.Metadata) else field.type
        name = header_name(field.encode_name) if headers else f"{prefix}{field.encode_name}"
        meaning = _description(field.type).replace("|", "\\|")
        rows.append(f"| `{name}` | {_type(field.type)} | {_default(field)} | {meaning} |")
        members = kind.types if isinstance(kind, mi.UnionType) else (kind,)
        for member in members:
            if isinstance(member, mi.StructType):
                rows.extend(_rows(member, prefix=f"{name}."))
    return rows


def _block(contract: TopicContract) -> str:
    info = mi.type_info(contract.type)
    assert isinstance(info, mi.StructType)
    module = contract.type.__module__.replace(".", "/") + ".py"
    part = "Value" if contract.value is not None else "Headers"
    header = "Header" if contract.value is None else "Field"
    lines = [
        f"{part}: `{contract.type.__name__}` ([{module}](../{module})), JSON Schema "
        f"[schemas/{schema_file(contract)}](schemas/{schema_file(contract)}).",
        "",
        f"| {header} | Type | Required (default) | Meaning |",
        "|---|---|---|---|",
        *_rows(info, headers=contract.value is None),
    ]
    return "\n".join(lines) + "\n"


def render_contract_md(text: str) -> str:
    """``text`` (docs/contract.md) with every contract block regenerated.

    Raises ``ValueError`` when a topic of the registry has no block, or a block names an
    unknown topic.
    """
    by_topic = {c.topic: c for c in TOPICS}
    seen: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        topic = match["topic"]
        if topic not in by_topic:
            raise ValueError(f"docs/contract.md has a block for unknown topic {topic!r}")
        seen.add(topic)
        return match.group(1) + _block(by_topic[topic]) + match.group(4)

    rendered = _BLOCK.sub(replace, text)
    missing = set(by_topic) - seen
    if missing:
        raise ValueError(f"docs/contract.md has no contract block for {sorted(missing)}")
    return rendered


def stale_files() -> list[Path]:
    """The generated files whose committed content differs from the types (or is missing)."""
    stale = [
        SCHEMAS_DIR / name
        for name, content in render_schemas().items()
        if not (SCHEMAS_DIR / name).is_file() or (SCHEMAS_DIR / name).read_text() != content
    ]
    known = set(render_schemas())
    stale += [p for p in sorted(SCHEMAS_DIR.glob("*.json")) if p.name not in known]
    text = CONTRACT_MD.read_text()
    if render_contract_md(text) != text:
        stale.append(CONTRACT_MD)
    return stale


def write() -> None:
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    rendered = render_schemas()
    for old in SCHEMAS_DIR.glob("*.json"):
        if old.name not in rendered:
            old.unlink()
    for name, content in rendered.items():
        (SCHEMAS_DIR / name).write_text(content)
    CONTRACT_MD.write_text(render_contract_md(CONTRACT_MD.read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            sys.stderr.write(f"stale: {path.relative_to(ROOT)}\n")
        return 1 if stale else 0
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
