"""Core benchmark: ingest and audited point queries against baselines measured in the same run.

Run:  python benchmarks/bench_core.py [--records 10000] [--queries 300]
      (set CREDIT_VAULT_TEST_POSTGRES_URL to add the PostgreSQL rows)

1. Ingest of N three-field records (one ``ingest_many`` call, one transaction, one
   log entry) against the same rows inserted with plain SQLAlchemy Core
   ``executemany`` (3 text columns, unencrypted) and through sqlalchemy-utils
   ``StringEncryptedType`` with its AES-GCM engine (same 3 columns, encrypted by
   the ORM type), all into a fresh SQLite file in WAL mode.
2. An audited point query (one subject, decrypt the permitted fields, log entry
   committed) against the same read with no log entry (same SELECTs and
   decryption, read-only transaction), under durability "strict" and "normal";
   plus the time of one fsync'd commit measured alone (the floor under "strict").

Prints a table; paste it into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from credit_vault import Actor, RecordIn, SubjectRef, Vault
from credit_vault._fields import decode_value, encode_value, unpack
from credit_vault.crypto import Envelope, FieldCipher, FileKeyProvider, seal_new_records
from credit_vault.identifiers import CitizenId
from credit_vault.testing import FrozenClock
from credit_vault.vault import _RECORDS_OF_SUBJECT, _SUBJECT_BY_LOOKUP

CATEGORY = "tax.major_violation"
BASIS = "税收征收管理法"


def citizen(i: int) -> str:
    first17 = f"421202{19500101 + (i % 40) * 10000 + (i // 40) % 12 * 100:08d}"[:14]
    first17 = f"{first17}{i % 1000:03d}"
    return first17 + CitizenId.compute_check_character(first17)


def rows(n: int, subjects: int) -> list[tuple[str, dict[str, str]]]:
    out = []
    for i in range(n):
        out.append(
            (
                citizen(i % subjects),
                {
                    "decision_no": f"咸税罚〔2025〕{i}号",
                    "authority": "咸宁市税务局稽查局",
                    "summary": f"逃避缴纳税款 {i} 元，处以罚款",
                },
            )
        )
    return out


def sqlite_engine(path: Path) -> Any:
    eng = create_engine(f"sqlite:///{path}")

    @event.listens_for(eng, "connect")
    def _wal(conn: Any, _rec: Any) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")

    return eng


def time_it(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_plain(data: list[tuple[str, dict[str, str]]], work: Path) -> float:
    def run() -> None:
        path = work / f"plain-{uuid.uuid4().hex}.db"
        eng = sqlite_engine(path)
        md = MetaData()
        t = Table(
            "records",
            md,
            Column("id", Integer, primary_key=True),
            Column("subject", String(18)),
            Column("decision_no", String(64)),
            Column("authority", String(128)),
            Column("summary", String(2000)),
        )
        md.create_all(eng)
        with eng.begin() as conn:
            conn.execute(insert(t), [{"subject": s, **f} for s, f in data])
        eng.dispose()

    return time_it(run)


def bench_sqlalchemy_utils(data: list[tuple[str, dict[str, str]]], work: Path) -> float | None:
    try:
        from sqlalchemy_utils import StringEncryptedType
        from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine
    except ImportError:
        return None
    key = os.urandom(32).hex()

    def run() -> None:
        path = work / f"sau-{uuid.uuid4().hex}.db"
        eng = sqlite_engine(path)
        md = MetaData()
        enc = lambda: StringEncryptedType(String, key, AesGcmEngine)  # noqa: E731
        t = Table(
            "records",
            md,
            Column("id", Integer, primary_key=True),
            Column("subject", enc()),
            Column("decision_no", enc()),
            Column("authority", enc()),
            Column("summary", enc()),
        )
        md.create_all(eng)
        with eng.begin() as conn:
            conn.execute(insert(t), [{"subject": s, **f} for s, f in data])
        eng.dispose()

    return time_it(run)


def open_vault(url: str, keys: FileKeyProvider, durability: str = "strict") -> Vault:
    clock = FrozenClock(datetime(2025, 6, 1, 2, 0, tzinfo=UTC))
    v = Vault.open(url, keys=keys, clock=clock, durability=durability)  # type: ignore[arg-type]
    v.register_source("tax", name="tax", categories=[CATEGORY])
    return v


CLERK = Actor(id="clerk", role="source_clerk", organisation="tax")
OFFICER = Actor(id="off", role="licensing_officer", organisation="market")


def records_in(data: list[tuple[str, dict[str, str]]]) -> list[RecordIn]:
    return [
        RecordIn(
            subject=SubjectRef.person(s),
            category=CATEGORY,
            legal_basis=BASIS,
            decided_on=date(2025, 3, 1),
            occurred_on=date(2024, 12, 1),
            facts=f,
        )
        for s, f in data
    ]


def bench_vault_ingest(
    url_factory: Callable[[], str], data: list[tuple[str, dict[str, str]]], keys: FileKeyProvider
) -> tuple[float, float]:
    recs = records_in(data)  # model validation is the caller's, as with the baselines' dicts
    times = []
    for _ in range(3):
        v = open_vault(url_factory(), keys)
        t = time.perf_counter()
        v.ingest_many(CLERK, recs)
        times.append(time.perf_counter() - t)
        v.close()
    t = time.perf_counter()
    records_in(data)
    model_time = time.perf_counter() - t
    return min(times), model_time


def bench_floors(
    source: Path, work: Path, data: list[tuple[str, dict[str, str]]], keys: FileKeyProvider
) -> tuple[float, float, float]:
    """Seconds of the floors under the vault's ingest, each measured alone (best of 3).

    Crypto: ``seal_new_records`` for the batch (a data key, its wrap and three field
    encryptions per record; no subjects). Storage: the very ``cv_records`` rows a
    vault ingest wrote, inserted with raw ``sqlite3`` (no SQLAlchemy, no crypto,
    no validation) into a fresh vault schema with the same pragmas, plus the commit;
    ``source`` is a vault file the ingest benchmark wrote with ``data``. Narrowest
    storage: the same ids, subjects and sealed bytes in a three-column table with
    one index, the least any layout that can find a subject's records must write.
    """
    import sqlite3

    ks = keys.key_set()
    env = Envelope(ks)
    ids = [f"r_{i:024x}" for i in range(len(data))]
    items = [
        (rid, [(k, encode_value(v)) for k, v in facts.items()])
        for rid, (_, facts) in zip(ids, data, strict=True)
    ]
    crypto = time_it(lambda: seal_new_records(env, 1, items))

    src = sqlite3.connect(source)
    tables = ("cv_sources", "cv_source_categories", "cv_subjects")
    setup = {t: src.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    records = src.execute("SELECT * FROM cv_records").fetchall()
    columns = [r[1] for r in src.execute("PRAGMA table_info(cv_records)")]
    src.close()

    def run() -> float:
        path = work / f"floor-{uuid.uuid4().hex}.db"
        open_vault(f"sqlite:///{path}", keys).close()  # the schema, migrations applied
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode = WAL",
            "synchronous = FULL",
            "secure_delete = ON",
            "foreign_keys = ON",
        ):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("DELETE FROM cv_source_categories")
        conn.execute("DELETE FROM cv_sources")
        for t, rows_ in setup.items():
            marks = ",".join("?" * len(rows_[0]))
            conn.executemany(f"INSERT INTO {t} VALUES ({marks})", rows_)
        marks = ",".join("?" * len(records[0]))
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO cv_records VALUES ({marks})", records)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - t
        conn.close()
        return elapsed

    storage = min(run() for _ in range(3))

    # The narrowest layout any design could use and still find a subject's records:
    # the id, the subject and the sealed bytes (wrapped key and field ciphertexts,
    # the same bytes as above), one index on the subject, no foreign keys and no
    # columns for windows, states or the sweep.
    by_name = dict(zip(columns, range(len(columns)), strict=True))
    i_id, i_sub, i_key, i_fields = (
        by_name[c] for c in ("id", "subject_id", "wrapped_key", "fields")
    )
    narrow_rows = [(r[i_id], r[i_sub], r[i_key] + r[i_fields]) for r in records]

    def run_narrow() -> float:
        path = work / f"narrow-{uuid.uuid4().hex}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = FULL", "secure_delete = ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("CREATE TABLE r (id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, sealed BLOB)")
        conn.execute("CREATE INDEX r_subject ON r (subject_id)")
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO r VALUES (?, ?, ?)", narrow_rows)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - t
        conn.close()
        return elapsed

    narrow = min(run_narrow() for _ in range(3))
    return crypto, storage, narrow


def unaudited_read(v: Vault, subject: SubjectRef) -> int:
    """The same read as an audited query, without the log entry (read-only transaction)."""
    decision = v.policy.authorize(
        role="licensing_officer",
        purpose="licensing_review",
        ticket="T",
        is_self=False,
        has_consent=False,
    )
    today = v.today()
    n = 0
    with v._store.engine.connect() as conn:
        # The very statements the vault's read path runs (built once there too).
        srow = conn.execute(
            _SUBJECT_BY_LOOKUP, {"lookup": v._subject_lookup(subject), "kind": subject.kind}
        ).first()
        assert srow is not None
        for row in conn.execute(_RECORDS_OF_SUBJECT, {"sid": srow.id}).all():
            cat = v.catalog.get(row.category)
            visible = decision.visible_fields(cat)
            if not (row.disclosure_starts_on <= today < row.disclosure_ends_on):
                continue
            show = [f for f in row.field_names.split(",") if f in visible]
            fc = FieldCipher(v._envelope.unwrap(row.id, row.version, row.wrapped_key))
            cts = unpack(row.fields, show)
            for f in show:
                decode_value(fc.decrypt(row.id, f, cts[f]))
                n += 1
        conn.rollback()
    return n


def bench_query(
    url: str,
    keys: FileKeyProvider,
    durability: str,
    data: list[tuple[str, dict[str, str]]],
    queries: int,
) -> tuple[float, float, float]:
    """Median seconds of: the audited query; the same query with no log entry; a bare read.

    "No log entry" is the vault's own query path with the append replaced by a
    no-op (same transaction, same policy check, decryption, objects and telemetry):
    the difference is exactly what the log costs. The bare read is a hand-written
    read with the same statements and decryption, outside any write transaction.
    """
    v = open_vault(url, keys, durability)
    v.ingest_many(CLERK, records_in(data))
    subjects = sorted({s for s, _ in data})
    refs = [SubjectRef.person(s) for s in subjects]
    audited: list[float] = []
    unlogged: list[float] = []
    bare: list[float] = []
    real_append = Vault._append
    for i in range(queries):
        s = refs[i % len(refs)]
        t = time.perf_counter()
        unaudited_read(v, s)
        bare.append(time.perf_counter() - t)
        Vault._append = lambda self, conn, entry: -1  # type: ignore[method-assign]
        try:
            t = time.perf_counter()
            v.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
            unlogged.append(time.perf_counter() - t)
        finally:
            Vault._append = real_append  # type: ignore[method-assign]
        t = time.perf_counter()
        d = v.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
        audited.append(time.perf_counter() - t)
        assert d.records
    v.close()
    return statistics.median(audited), statistics.median(unlogged), statistics.median(bare)


def bench_flush(path: Path) -> float:
    """One committed single-row insert with synchronous=FULL: the disk's flush, alone."""
    eng = sqlite_engine(path)
    md = MetaData()
    t = Table("t", md, Column("id", Integer, primary_key=True), Column("v", String(10)))
    md.create_all(eng)
    samples = []
    with eng.connect() as conn:
        for i in range(200):
            s = time.perf_counter()
            conn.execute(insert(t).values(v=str(i)))
            conn.commit()
            samples.append(time.perf_counter() - s)
    eng.dispose()
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--subjects", type=int, default=2_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    n = args.records
    data = rows(n, args.subjects)
    work = Path(tempfile.mkdtemp(prefix="cv-bench-"))
    keys = FileKeyProvider.create(work / "bench.keys")
    print(f"# bench_core: {n} records, {args.subjects} subjects, {args.queries} queries")
    print(
        f"# {datetime.now(UTC):%Y-%m-%d} · Python {platform.python_version()} · {platform.machine()} · {os.cpu_count()} cpus"
    )
    print()

    plain = bench_plain(data, work)
    sau = bench_sqlalchemy_utils(data, work)
    counter = iter(range(10**6))
    vault_t, model_t = bench_vault_ingest(
        lambda: f"sqlite:///{work / f'v{next(counter)}.db'}", data, keys
    )

    # The ingest benchmark's first vault file holds the rows the storage floor replays.
    crypto_floor, storage_floor, narrow_floor = bench_floors(work / "v0.db", work, data, keys)

    def us(t: float) -> str:
        return f"{t / n * 1e6:8.1f}"

    print("## 1. Ingest (SQLite file, WAL, one transaction)")
    print()
    print("| method | total s | µs / record | vault throughput ÷ this |")
    print("|---|---:|---:|---:|")
    print(
        f"| plain SQLAlchemy Core executemany (3 text cols, no encryption) | {plain:.3f} | {us(plain)} | {plain / vault_t:.2f}× |"
    )
    if sau is not None:
        print(
            f"| sqlalchemy-utils StringEncryptedType (AES-GCM engine) | {sau:.3f} | {us(sau)} | {sau / vault_t:.2f}× |"
        )
    print(
        f"| credit_vault ingest_many (envelope, 3 fields, blind index, log entry) | {vault_t:.3f} | {us(vault_t)} | 1.00× |"
    )
    print(
        f"| (building the {n} RecordIn models, not included above) | {model_t:.3f} | {us(model_t)} | |"
    )
    print(
        f"| floor: the crypto alone (seal_new_records: data key, wrap, 3 fields) | {crypto_floor:.3f} | {us(crypto_floor)} | |"
    )
    print(
        f"| floor: the vault's own record rows through raw sqlite3 executemany + commit | {storage_floor:.3f} | {us(storage_floor)} | |"
    )
    print(
        f"| floor: the two together | {crypto_floor + storage_floor:.3f} | {us(crypto_floor + storage_floor)} | |"
    )
    print(
        f"| floor: the narrowest conceivable rows (id, subject, sealed bytes; one index) | {narrow_floor:.3f} | {us(narrow_floor)} | |"
    )
    print(
        f"| floor: the crypto and the narrowest rows together | {crypto_floor + narrow_floor:.3f} | {us(crypto_floor + narrow_floor)} | |"
    )
    print()
    print(
        f"Goals: vault ≥ 3× sqlalchemy-utils → {'met' if sau and sau / vault_t >= 3 else 'NOT met'}; "
        f"vault ≥ 0.3× plain → {plain / vault_t:.2f}× {'met' if plain / vault_t >= 0.3 else 'NOT met'}"
    )
    budget = min(plain / 0.3, sau / 3 if sau else float("inf"))
    print(
        f"Both goals together allow {us(budget).strip()} µs a record for everything; the crypto "
        f"and the narrowest rows alone take {us(crypto_floor + narrow_floor).strip()} µs, before "
        "validation, subjects and the log entry."
    )
    print()

    # Point queries: a subject's file of one record, and of five (each subject's
    # records are decrypted up to the restricted tier and the read is logged).
    shapes = {1: rows(2000, 2000), 5: rows(5000, 1000)}
    print("## 2. Audited point query vs the same read without a log entry (SQLite)")
    print()
    print(
        "| durability | records per subject | audited ms | same query, no log entry ms | ratio "
        "| bare read ms | ratio to bare |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in ("normal", "strict"):
        for per, qdata in shapes.items():
            a, u, p = bench_query(
                f"sqlite:///{work / f'q-{mode}-{per}.db'}", keys, mode, qdata, args.queries
            )
            print(
                f"| {mode} | {per} | {a * 1e3:.3f} | {u * 1e3:.3f} | {a / u:.2f}× "
                f"| {p * 1e3:.3f} | {a / p:.2f}× |"
            )
    flush = bench_flush(work / "flush.db")
    print(f"| (one fsync'd commit alone, synchronous=FULL) | | {flush * 1e3:.3f} | | | | |")
    print()

    pg = os.environ.get("CREDIT_VAULT_TEST_POSTGRES_URL")
    if pg:
        from sqlalchemy import text

        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        schemas = []

        def pg_url() -> str:
            name = "cvbench_" + uuid.uuid4().hex[:10]
            with admin.connect() as c:
                c.execute(text(f'CREATE SCHEMA "{name}"'))
            schemas.append(name)
            sep = "&" if "?" in pg else "?"
            return f"{pg}{sep}options=-csearch_path%3D{name}"

        try:
            pv, _ = bench_vault_ingest(pg_url, data, keys)
            print("## 3. PostgreSQL (same machine, loopback)")
            print()
            print("| measurement | value |")
            print("|---|---:|")
            print(f"| ingest_many µs / record | {pv / n * 1e6:.1f} |")
            for mode in ("normal", "strict"):
                a, u, p = bench_query(pg_url(), keys, mode, shapes[5], args.queries)
                print(
                    f"| audited ms ({mode}, 5 records) / no log entry ms / ratio / bare read ms "
                    f"| {a * 1e3:.3f} / {u * 1e3:.3f} / {a / u:.2f}× / {p * 1e3:.3f} |"
                )
        finally:
            with admin.connect() as c:
                for name in schemas:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
