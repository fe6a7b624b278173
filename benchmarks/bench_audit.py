"""Access-log benchmark: append throughput, and export + offline verification of a large log.

Run: ``/work/venv/bin/python benchmarks/bench_audit.py [--entries N] [--appends N] [--repeat R]``
(PostgreSQL rows need ``CREDIT_VAULT_TEST_POSTGRES_URL`` or ``--postgres URL``; a fresh
schema is created and dropped.)

Append throughput: ``vault._log_only(entry)``, one transaction per entry -- what every
logged operation pays for its log entry (head lock, canonical bytes, leaf hash,
compact-range update, insert) -- on a SQLite file (durability strict and normal)
and on PostgreSQL, by one process and by four at once.

The large log (default 1,000,000 entries) is built directly in the database, not
through the vault API (which would take hours): entries are made with the same
``AccessEntry.canonical`` the vault uses, in a realistic mix -- 60 % granted
queries (1-3 record ids, 3-6 field names, a ticket), 10 % refusals (reason code,
no records), 15 % ingests (1-20 record ids, legal basis), 10 % self queries, 5 %
workflow steps with ``x_`` extras (these take the verifier's exact slow path) --
with 32-hex subject pseudonyms, 32-hex request ids, 200 actors in 20
organisations and times 1-5 s apart. Rows are inserted in batches with their leaf
hashes, the head (size, compact-range frontier, root) is written once, and a
checkpoint is signed every 1,000 entries as the vault's default cadence would.
Then the vault exports it (``vault.audit.export``), ``sha256sum`` hashes the
exported ``entries.jsonl`` (best of R, page cache warm) and the offline verifier
runs in a fresh process (best of R), its process tree's memory sampled from
/proc every 20 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

# Run from a checkout without installing: the repository root holds the package.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, create_engine, insert, text, update

from credit_vault import Actor, Vault
from credit_vault.audit import AccessEntry, Checkpoint, CompactRange, leaf_hash, sign_note
from credit_vault.crypto import FileKeyProvider
from credit_vault.storage.tables import AuditCheckpoint, AuditEntry, AuditHead

AUDITOR = Actor(id="bench-auditor", role="auditor", organisation="audit-office")
PURPOSES = ("licensing_review", "joint_punishment", "authorized_query", "court_order")
FIELDS = (
    "amount",
    "authority",
    "decided_on",
    "decision_no",
    "penalty_kind",
    "summary",
    "list_name",
)
CATEGORIES = ("tax.major_violation", "court.defaulter", "env.penalty", "food.violation")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def realistic_entry(rnd: random.Random) -> AccessEntry:
    """One entry of the mix described in the module docstring."""
    hexs = rnd.randbytes
    actor = rnd.randrange(200)
    base: dict[str, Any] = {
        "actor_id": f"officer-{actor:03d}",
        "actor_role": "licensing_officer",
        "actor_org": f"bureau-{actor % 20:02d}",
        "subject": hexs(16).hex(),
        "request_id": hexs(16).hex(),
    }
    kind = rnd.random()
    if kind < 0.60:
        return AccessEntry(
            op="query",
            outcome="ok",
            purpose=rnd.choice(PURPOSES),
            ticket=f"XN-LIC-2025-{rnd.randrange(10000):04d}",
            records=tuple(f"r_{hexs(12).hex()}" for _ in range(rnd.randint(1, 3))),
            categories=tuple(rnd.sample(CATEGORIES, rnd.randint(1, 2))),
            fields=tuple(rnd.sample(FIELDS, rnd.randint(3, 6))),
            **base,
        )
    if kind < 0.70:
        return AccessEntry(
            op="query",
            outcome="denied",
            purpose=rnd.choice(PURPOSES),
            reason=rnd.choice(("ticket_required", "role_not_granted", "consent_required")),
            **base,
        )
    if kind < 0.85:
        base.update(actor_role="source_clerk", actor_org=f"src-{actor % 20:02d}")
        return AccessEntry(
            op="ingest",
            outcome="ok",
            legal_basis="《重大税收违法失信主体信息公布管理办法》",
            records=tuple(f"r_{hexs(12).hex()}" for _ in range(rnd.randint(1, 20))),
            categories=(rnd.choice(CATEGORIES),),
            fields=tuple(sorted(rnd.sample(FIELDS, 5))),
            **base,
        )
    if kind < 0.95:
        base.update(actor_id=f"portal-{rnd.randrange(10**6):06d}", actor_role="subject")
        base["actor_org"] = ""
        return AccessEntry(
            op="self_query",
            outcome="ok",
            purpose="self_query",
            records=tuple(f"r_{hexs(12).hex()}" for _ in range(rnd.randint(1, 5))),
            fields=tuple(rnd.sample(FIELDS, 6)),
            **base,
        )
    base.update(actor_role="objection_handler")
    return AccessEntry(
        op="objection",
        outcome="ok",
        purpose="objection_handling",
        reason="objection.upheld:data_entry_error",
        records=(f"r_{hexs(12).hex()}",),
        extra=(("from", "open"), ("object", f"ob_{hexs(12).hex()}"), ("to", "upheld")),
        **base,
    )


def build_log(url: str, keys: FileKeyProvider, n: int) -> float:
    """Write ``n`` entries, their head and a checkpoint every 1,000 straight into the database."""
    with Vault.open(url, keys=keys) as vault:
        origin = vault.origin
        signer = vault._keys.audit_signer
        start_size = vault.audit.head().size
    assert start_size == 0
    table_e = cast("Table", AuditEntry.__table__)
    table_h = cast("Table", AuditHead.__table__)
    table_c = cast("Table", AuditCheckpoint.__table__)
    rnd = random.Random(20250601)
    ts = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    cr = CompactRange()
    started = time.perf_counter()
    engine = create_engine(url)
    batch: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for seq in range(n):
            ts += timedelta(seconds=rnd.randint(1, 5))
            e = realistic_entry(rnd)
            data = e.canonical(seq, ts)
            lh = leaf_hash(data)
            cr.append(lh)
            batch.append(
                {
                    "seq": seq,
                    "ts": ts,
                    "actor_id": e.actor_id,
                    "op": e.op,
                    "subject_pseudonym": e.subject or None,
                    "leaf_hash": lh,
                    "entry": data,
                }
            )
            if cr.size % 1000 == 0:
                body = Checkpoint(origin, cr.size, cr.root()).body()
                note = sign_note(body, origin, signer.sign, signer.public_key)
                checkpoints.append(
                    {"size": cr.size, "root": cr.root(), "note": note, "created_at": ts}
                )
            if len(batch) == 20000:
                conn.execute(insert(table_e), batch)
                batch.clear()
        if batch:
            conn.execute(insert(table_e), batch)
        if checkpoints:
            conn.execute(insert(table_c), checkpoints)
        conn.execute(
            update(table_h)
            .where(table_h.c.id == 1)
            .values(size=cr.size, frontier=cr.to_bytes(), root=cr.root(), updated_at=ts)
        )
    engine.dispose()
    return time.perf_counter() - started


# --- appends ---------------------------------------------------------------------------------


def _appender(url: str, key_path: str, count: int, q: Any, go: Any) -> None:
    with Vault.open(url, keys=FileKeyProvider(key_path), checkpoint_every=None) as v:
        rnd = random.Random(os.getpid())
        entries = [realistic_entry(rnd) for _ in range(count)]
        q.put("ready")
        go.wait()
        started = time.perf_counter()
        for e in entries:
            v._log_only(e)
        q.put(time.perf_counter() - started)


def append_rate(url: str, key_path: Path, count: int, processes: int, **open_kw: Any) -> float:
    """Entries per second, one transaction per entry, ``processes`` appending at once."""
    with Vault.open(url, keys=FileKeyProvider(key_path), **open_kw):
        pass  # create the schema first
    if processes == 1:
        with Vault.open(url, keys=FileKeyProvider(key_path), **open_kw) as v:
            rnd = random.Random(1)
            entries = [realistic_entry(rnd) for _ in range(count)]
            started = time.perf_counter()
            for e in entries:
                v._log_only(e)
            return count / (time.perf_counter() - started)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    go = ctx.Event()
    procs = [
        ctx.Process(target=_appender, args=(url, str(key_path), count, q, go))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        assert q.get(timeout=600) == "ready"
    started = time.perf_counter()
    go.set()
    for _ in procs:
        q.get(timeout=600)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return processes * count / elapsed


class PgSchema:
    """A throw-away schema whose URL pins search_path to it."""

    def __init__(self, base: str) -> None:
        self.name = "cvb_" + uuid.uuid4().hex[:12]
        self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        sep = "&" if "?" in base else "?"
        self.url = f"{base}{sep}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self.admin.dispose()


# --- verification ----------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for k in kids:
        out.extend(_tree(k))
    return out


def _mem_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


_VERIFY = """
import sys, time
started = time.perf_counter()
from credit_vault.audit import verify_bundle
imported = time.perf_counter()
r = verify_bundle(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]) or None)
print(r.ok, r.entries, r.seconds, imported - started, r.workers)
sys.exit(0 if r.ok else 1)
"""


def run_verifier(bundle: Path, key: str, workers: int) -> dict[str, float]:
    """Run the offline verifier in a fresh process; time it and sample its memory."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _VERIFY, str(bundle), key, str(workers)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    peak = {"rss": 0, "pss": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = pss = 0
            for pid in _tree(proc.pid):
                r, p = _mem_kb(pid)
                rss += r
                pss += p
            peak["rss"] = max(peak["rss"], rss)
            peak["pss"] = max(peak["pss"], pss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    ok, entries, inner, imports, used = out.split()
    if ok != "True":
        raise SystemExit("the offline verifier rejected the benchmark bundle")
    return {
        "wall": wall,
        "verify": float(inner),
        "imports": float(imports),
        "entries": int(entries),
        "workers": int(used),
        "rss_mb": peak["rss"] / 1024,
        "pss_mb": peak["pss"] / 1024,
    }


def sha256sum(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
    return time.perf_counter() - started


def plain_loop(path: Path) -> float:
    """The naive verifier: one line at a time, json.loads + re-serialise + hash + fold."""
    from credit_vault.audit import canonical_json, parse_canonical

    started = time.perf_counter()
    cr = CompactRange()
    with path.open("rb") as f:
        for seq, raw in enumerate(f):
            line = raw[:-1]
            doc = parse_canonical(line)
            assert doc["seq"] == seq
            assert canonical_json(doc) == line
            cr.append(leaf_hash(line))
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--appends", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get("CREDIT_VAULT_TEST_POSTGRES_URL"))
    ap.add_argument("--dir", type=Path, default=None, help="Work directory (default: a temp dir).")
    ap.add_argument("--baseline", action="store_true", help="Also time the plain one-line loop.")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=args.dir))
    try:
        key_path = work / "vault.keys"
        FileKeyProvider.create(key_path)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        load = os.getloadavg()[0]
        print(f"# bench_audit.py — {now}, {os.cpu_count()} cores, {cpu_model()}, load {load:.1f}")
        print(f"# Python {platform.python_version()}")
        print()
        print("| appends, one transaction per entry | entries/s |")
        print("|---|---:|")
        for durability in ("strict", "normal"):
            url = f"sqlite:///{work / f'append-{durability}.db'}"
            rate = append_rate(url, key_path, args.appends, 1, durability=durability)
            print(f"| SQLite file, durability={durability}, 1 process | {rate:,.0f} |")
        url = f"sqlite:///{work / 'append-4.db'}"
        rate = append_rate(url, key_path, args.appends // 4, 4)
        print(f"| SQLite file, durability=strict, 4 processes | {rate:,.0f} |")
        if args.postgres:
            for procs in (1, 4):
                schema = PgSchema(args.postgres)
                try:
                    rate = append_rate(schema.url, key_path, args.appends // procs, procs)
                finally:
                    schema.drop()
                print(f"| PostgreSQL 15 (local), {procs} process(es) | {rate:,.0f} |")
        else:
            print("| PostgreSQL | (no URL given) |")
        print()

        db = work / "big.db"
        url = f"sqlite:///{db}"
        built = build_log(url, FileKeyProvider(key_path), args.entries)
        with Vault.open(url, keys=FileKeyProvider(key_path), checkpoint_every=None) as vault:
            started = time.perf_counter()
            result = vault.audit.export(AUDITOR, work / "bundle")
            exported = time.perf_counter() - started
            key = vault.audit.verifier_key()
        entries_file = result.path / "entries.jsonl"
        size_mb = entries_file.stat().st_size / 1e6
        sha256sum(entries_file)  # warm the page cache for everyone
        sha = min(sha256sum(entries_file) for _ in range(args.repeat))
        runs = [run_verifier(result.path, key, 0) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall"])
        one = min(
            (run_verifier(result.path, key, 1) for _ in range(args.repeat)), key=lambda r: r["wall"]
        )
        print(
            f"| {result.entries:,} entries ({size_mb:,.0f} MB entries.jsonl) | seconds | × sha256sum |"
        )
        print("|---|---:|---:|")
        print(f"| build directly in SQLite (not timed against anything) | {built:.1f} | |")
        print(f"| vault.audit.export → bundle directory | {exported:.1f} | |")
        print(f"| sha256sum entries.jsonl (best of {args.repeat}) | {sha:.2f} | 1.00 |")
        for label, r in ((f"{best['workers']} workers", best), ("1 process", one)):
            print(
                f"| offline verify, {label}: verify_bundle | {r['verify']:.2f} | "
                f"{r['verify'] / sha:.2f} |"
            )
            print(
                f"| offline verify, {label}: whole process incl. imports ({r['imports']:.2f} s) "
                f"| {r['wall']:.2f} | {r['wall'] / sha:.2f} |"
            )
        if args.baseline:
            plain = plain_loop(entries_file)
            print(
                f"| plain one-line loop (parse, re-serialise, hash, fold) | {plain:.2f} | {plain / sha:.2f} |"
            )
        print()
        print("| verifier peak memory (process tree, sampled every 20 ms) | MB |")
        print("|---|---:|")
        print(
            f"| {best['workers']} workers: sum of RSS (shared pages counted per process) | {best['rss_mb']:.0f} |"
        )
        print(
            f"| {best['workers']} workers: sum of PSS (shared pages divided) | {best['pss_mb']:.0f} |"
        )
        print(f"| 1 process: RSS | {one['rss_mb']:.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
