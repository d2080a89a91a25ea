"""``arbitrage profile show | set KEY=VALUE... | import FILE``: the seller profile in force.

Reads and publishes through :mod:`app.ingest.profile_topic`, the code ``GET/PUT /profile``
use. Input is validated before anything is published: a bad one prints the error with the
field's path (``profile field 'thresholds.min_roi': ...``) and exits with 2; Kafka being
unreachable (or the topic not created yet) exits with 1. Heavy imports stay inside the
commands so ``arbitrage --help`` stays fast.
"""

from __future__ import annotations

import getpass
import json
import tomllib
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.domain.profile import (
    ProfileError,
    SellerProfile,
    profile_from_mapping,
    profile_to_mapping,
    with_overrides,
)

if TYPE_CHECKING:
    from app.contracts.seller_profile import ProfileInForce

__all__ = [
    "ProfileInputError",
    "load_profile_file",
    "parse_assignments",
    "profile_cli",
]

profile_cli = typer.Typer(
    no_args_is_help=True,
    help="The seller profile in force (topic `seller.profile`; docs/pricing.md).",
)

#: Exit codes: bad input (nothing published) / Kafka unavailable.
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 1


class ProfileInputError(ValueError):
    """Input that is not a profile at all (an argument without ``=``, a file that is not
    JSON/TOML); a profile with a bad value raises :class:`ProfileError` instead."""


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["thresholds.min_roi=0.2", "fulfilment.FR.mode=efn"]`` -> ``{key: value}``; the
    value is everything after the first ``=`` (may be empty); a key given twice: the last."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ProfileInputError(
                f"expected KEY=VALUE (e.g. thresholds.min_roi=0.2), got {pair!r}"
            )
        parsed[key.strip()] = value
    return parsed


def load_profile_file(path: Path) -> SellerProfile:
    """The profile in a JSON file (``.toml``: a TOML file) holding the profile's fields, as
    ``arbitrage profile show`` prints them; fields left out take the default's values.
    Numbers with a fraction are read as exact decimals (``0.2`` is ``Decimal("0.2")``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileInputError(f"{path}: cannot read: {exc}") from None
    raw: Any
    if path.suffix.lower() == ".toml":
        try:
            raw = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileInputError(f"{path}: not valid TOML: {exc}") from None
    else:
        try:
            raw = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ProfileInputError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProfileInputError(f"{path}: must hold an object of profile fields")
    return profile_from_mapping(raw)


def _default_author() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _describe(in_force: ProfileInForce) -> str:
    if in_force.updated_at is None:
        return f"version {in_force.version}: the default profile (none published yet)"
    return (
        f"version {in_force.version}, published {in_force.updated_at.isoformat()} "
        f"by {in_force.updated_by!r}"
    )


def _read() -> ProfileInForce:
    from aiokafka.errors import KafkaError

    from app.ingest.profile_topic import read_profile_in_force
    from app.settings import get_settings

    try:
        return read_profile_in_force(get_settings())
    except (KafkaError, TimeoutError, OSError) as exc:
        raise _fail(f"cannot read the profile from Kafka: {exc}", EXIT_UNAVAILABLE) from None


def _publish(profile: SellerProfile, updated_by: str) -> None:
    from aiokafka.errors import KafkaError

    from app.ingest.profile_topic import ProfileTopicMissingError, publish_profile
    from app.settings import get_settings

    try:
        published = publish_profile(
            get_settings(), profile, updated_by=updated_by, now=datetime.now(UTC)
        )
    except ProfileTopicMissingError as exc:
        raise _fail(str(exc), EXIT_UNAVAILABLE) from None
    except (KafkaError, TimeoutError, OSError) as exc:
        raise _fail(f"cannot publish the profile to Kafka: {exc}", EXIT_UNAVAILABLE) from None
    typer.echo(
        f"published to {published.topic}[{published.partition}]@{published.offset}: "
        f"{_describe(published.in_force)}"
    )


_BY = typer.Option(None, "--by", help="Who changes it (free text; default cli:<user>).")


@profile_cli.command("show")
def profile_show() -> None:
    """Print the profile in force as JSON (stdout; `import` reads it back) and its version,
    date and author (stderr)."""
    in_force = _read()
    typer.echo(json.dumps(profile_to_mapping(in_force.profile), indent=2))
    typer.echo(_describe(in_force), err=True)


@profile_cli.command("set")
def profile_set(
    assignments: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE, KEY a dotted path as `show` prints it, e.g. "
            "thresholds.min_roi=0.2 fulfilment.FR.mode=efn vat_registered_in=DE,FR."
        ),
    ],
    by: str | None = _BY,
) -> None:
    """Change some fields of the profile in force and publish the result."""
    try:
        overrides = parse_assignments(assignments)
    except ProfileInputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    current = _read()
    try:
        profile = with_overrides(current.profile, overrides)
    except ProfileError as exc:
        raise _fail(f"{exc}; nothing was published", EXIT_BAD_INPUT) from None
    _publish(profile, by or _default_author())


@profile_cli.command("import")
def profile_import(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help="A JSON file (or .toml) of profile fields.")
    ],
    by: str | None = _BY,
) -> None:
    """Replace the profile with the one in FILE (fields left out take the default's value)."""
    try:
        profile = load_profile_file(file)
    except ProfileInputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    except ProfileError as exc:
        raise _fail(f"{file}: {exc}; nothing was published", EXIT_BAD_INPUT) from None
    _publish(profile, by or _default_author())
