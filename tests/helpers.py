"""Builders shared by tests: valid records for any category, actors, sources."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Any

from credit_vault import Actor, Category, RecordIn, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.identifiers import CitizenId, CreditCode

SOURCE_FOR_DOMAIN = "src-"


def source_code(category: str) -> str:
    """One test source per category."""
    return "src-" + category.replace(".", "-")


def register_all_sources(vault: Vault) -> None:
    """Register one source per catalogue category."""
    for cat in vault.catalog.categories:
        vault.register_source(
            source_code(cat.code), name=f"source of {cat.code}", categories=[cat.code]
        )


def clerk_for(category: str) -> Actor:
    """A source clerk allowed to push ``category``."""
    return Actor(id=f"clerk-{category}", role="source_clerk", organisation=source_code(category))


def citizen_id(seq: int, birth: str = "19800101", region: str = "421202") -> str:
    """A valid citizen ID number with sequence ``seq`` (0-999)."""
    first17 = f"{region}{birth}{seq % 1000:03d}"
    return first17 + CitizenId.compute_check_character(first17)


def credit_code(seq: int, region: str = "421202") -> str:
    """A valid unified social credit code."""
    first17 = f"91{region}MA{seq % 10**7:07d}"[:17]
    first17 = first17.replace("I", "1").replace("O", "0")
    return first17 + CreditCode.compute_check_character(first17)


def sample_value(spec_type: str, marker: str, n: int) -> Any:
    """A valid value of a field type; strings carry ``marker``."""
    if spec_type == "string":
        return f"{marker}-{n}"
    if spec_type == "integer":
        return 7 + n
    if spec_type == "decimal":
        return f"{1000 + n}.50"
    if spec_type == "date":
        return "2024-05-06"
    return True


def full_facts(cat: Category, marker: str = "VAL") -> dict[str, Any]:
    """A value for every field of the category (strings carry the marker)."""
    return {f.name: sample_value(f.type, f"{marker}{f.name}", i) for i, f in enumerate(cat.fields)}


def record_for(
    vault: Vault,
    category: str,
    subject: SubjectRef,
    *,
    decided_on: date = date(2025, 3, 1),
    occurred_on: date = date(2024, 12, 1),
    marker: str = "VAL",
    **kw: Any,
) -> RecordIn:
    """A valid record of ``category`` for ``subject``."""
    cat = vault.catalog.get(category)
    return RecordIn(
        subject=subject,
        category=category,
        legal_basis=cat.legal_bases[0],
        decided_on=decided_on,
        occurred_on=occurred_on,
        facts=full_facts(cat, marker),
        **kw,
    )


OFFICER = Actor(id="off-1", role="licensing_officer", organisation="market-bureau")
ENFORCER = Actor(id="enf-1", role="enforcement_officer", organisation="court")
THIRD = Actor(id="bank-1", role="third_party", organisation="bank")
AUDITOR = Actor(id="aud-1", role="auditor", organisation="audit-office")


def stored_bytes(url: str) -> bytes:
    """Everything the database holds, as bytes, for searching for plaintext.

    SQLite: the database file and its WAL as they are on disk. PostgreSQL: every
    row of every table in the schema as text, plus the decoded contents of each
    ``bytea`` value (which the text form shows as hex).
    """
    import re
    from pathlib import Path

    from sqlalchemy import create_engine, inspect, text

    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(
            p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
    engine = create_engine(url)
    chunks: list[bytes] = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for (row,) in conn.execute(text(f'SELECT t::text FROM "{table}" t')):
                    chunks.append(row.encode())
                    chunks.extend(bytes.fromhex(h) for h in re.findall(r"\\\\x([0-9a-f]+)", row))
    finally:
        engine.dispose()
    return b"\n".join(chunks)


def key_file_without(src: Path, dest: Path, drop: Collection[str]) -> FileKeyProvider:
    """A copy of a key file without the KEKs in ``drop`` (what an operator does after a rotation)."""
    doc = json.loads(src.read_text())
    doc["keks"] = [k for k in doc["keks"] if k["id"] not in drop]
    dest.write_text(json.dumps(doc))
    dest.chmod(0o600)
    return FileKeyProvider(dest)


def make_log_unwritable(conn: Any) -> None:
    """Add a trigger that aborts every insert into the access log (SQLite or PostgreSQL)."""
    from sqlalchemy import text

    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                "CREATE TRIGGER no_log BEFORE INSERT ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'log is read-only'); END"
            )
        )
        return
    conn.execute(
        text(
            "CREATE FUNCTION no_log() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'log is read-only'; END $$ LANGUAGE plpgsql"
        )
    )
    conn.execute(
        text(
            "CREATE TRIGGER no_log BEFORE INSERT ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION no_log()"
        )
    )
