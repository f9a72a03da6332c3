"""An evidence pack: one zip that proves what a page said before and after a change, and when.

What a pack holds, under ``change-N/``:

- ``change-N.warc.gz``: both versions as fetched (see evidence.py), bodies byte for byte;
- ``before.txt``, ``after.txt``: the text extracted from each, as stored;
- ``diff.html``: the change rendered from those texts and the stored delta;
- ``chain/records.json``: the content of each record (the two snapshots, the change, its events,
  its archive copies) exactly as the integrity chain hashes it, and ``chain/delta.txt``;
- ``chain/ledger.jsonl``: the chain from the first of those records to the entry the newest
  timestamp covers, so each entry's link can be recomputed;
- ``timestamps/``: per token, the stamped head hash (``head-SEQ.txt``), the token
  (``SEQ-I.tsr``) and the TSA's root certificate (``tsa-I.pem``);
- ``screenshots/``: screenshots of the pages, where pledge-monitor kept them;
- ``manifest.json``, ``README.txt`` (how to check each part with standard tools), ``SHA256SUMS``.

Only the records, bodies, texts, chain entries, tokens and certificates carry information; every
other byte (the WARC, the diff, the manifest, the README, the checksums and the zip itself) is
built from them deterministically. ``verify_pack`` checks the carried parts against each other
and against the tokens, then rebuilds the pack and compares it byte for byte, so a change to any
byte of the file fails, and the first check that fails says where.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.audit import chain
from monitor.audit.evidence import Evidence, Fetch, write_warc
from monitor.errors import IntegrityError
from monitor.store.audit_queries import AuditStore, LedgerEntry

FORMAT = "pledge-monitor evidence pack 1"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PackToken:
    """A timestamp token over one chain entry, and the root certificate its TSA chains to."""

    seq: int
    tsa_url: str
    token: bytes
    ca_pem: bytes


@dataclass(frozen=True)
class PackData:
    """Everything a pack is built from: the parts that carry information."""

    change_id: int
    records: dict[str, dict[str, Any]]  # "snapshot:3" -> content as chained
    delta: str
    bodies: dict[str, bytes]  # "before" / "after"
    texts: dict[str, str]
    segment: list[LedgerEntry]
    tokens: list[PackToken] = field(default_factory=list)
    screenshots: dict[str, bytes] = field(default_factory=dict)

    @property
    def change(self) -> dict[str, Any]:
        return self.records[f"change:{self.change_id}"]

    def snapshot(self, side: str) -> dict[str, Any]:
        key = "from_snapshot_id" if side == "before" else "to_snapshot_id"
        return self.records[f"snapshot:{self.change[key]}"]

    def entry(self, record_type: str, record_id: int) -> LedgerEntry | None:
        return next(
            (e for e in self.segment if (e.record_type, e.record_id) == (record_type, record_id)), None
        )

    @property
    def folder(self) -> str:
        return f"change-{self.change_id}/"


# -- building ----------------------------------------------------------------------------------------


def build(data: PackData) -> bytes:
    """The zip, byte for byte the same for the same data."""
    files = members(data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(data.folder + name, date_time=ZIP_TIME)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    return out.getvalue()


def members(data: PackData) -> dict[str, bytes]:
    """Every file of the pack by its name inside the pack's folder."""
    files = carried(data)
    files[f"change-{data.change_id}.warc.gz"] = warc(data)
    files["diff.html"] = diff_html(data).encode()
    files["manifest.json"] = _json(manifest(data))
    files["README.txt"] = readme(data).encode()
    files["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files)
    ).encode()
    return files


def carried(data: PackData) -> dict[str, bytes]:
    """The files that carry information (everything else is built from these)."""
    files = {
        "before.txt": data.texts["before"].encode(),
        "after.txt": data.texts["after"].encode(),
        "chain/records.json": _json(data.records),
        "chain/delta.txt": data.delta.encode(),
        "chain/ledger.jsonl": "".join(
            json.dumps(e._asdict(), sort_keys=True) + "\n" for e in data.segment
        ).encode(),
    }
    for i, token in enumerate(data.tokens):
        files[f"timestamps/head-{token.seq}.txt"] = _entry_at(data, token.seq).hash.encode()
        files[f"timestamps/{token.seq}-{i}.tsr"] = token.token
        files[f"timestamps/tsa-{i}.pem"] = token.ca_pem
    for name, shot in data.screenshots.items():
        files[f"screenshots/{name}"] = shot
    return files


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _entry_at(data: PackData, seq: int) -> LedgerEntry:
    found = next((e for e in data.segment if e.seq == seq), None)
    if found is None:
        raise IntegrityError(f"the pack's chain segment has no entry seq {seq}, which a token stamps")
    return found


def evidence_of(data: PackData) -> Evidence:
    """The WARC's input, from the pack's records and bodies."""
    change = data.change
    return Evidence(
        change_id=data.change_id,
        source_id=change["source_id"],
        summary=change["summary"],
        detected_at=datetime.fromisoformat(change["detected_at"]),
        change_ledger=data.entry("change", data.change_id),
        head=data.segment[-1] if data.segment else None,
        before=_fetch(data, "before"),
        after=_fetch(data, "after"),
    )


def _fetch(data: PackData, side: str) -> Fetch:
    snap = data.snapshot(side)
    return Fetch(
        snapshot_id=snap["id"],
        check_id=snap["check_id"],
        fetched_at=datetime.fromisoformat(snap["fetched_at"]),
        url=snap["url"],
        status=snap["status"],
        request_headers=snap["request_headers"],
        headers=snap["headers"],
        body=data.bodies[side],
        body_hash=snap["body_hash"],
        text_hash=snap["text_hash"],
        ledger=data.entry("snapshot", snap["id"]),
        screenshot=data.screenshots.get(f"{side}.png"),
        screenshot_hash=snap.get("screenshot_hash"),
    )


def warc(data: PackData) -> bytes:
    out = io.BytesIO()
    write_warc(evidence_of(data), out, filename=f"change-{data.change_id}.warc.gz")
    return out.getvalue()


def diff_html(data: PackData) -> str:
    from monitor import diff as differ
    from monitor.audit.report import environment

    recorded = differ.from_delta(data.texts["before"], data.delta)
    return (
        environment()
        .get_template("evidence_diff.html")
        .render(
            change=data.change,
            before=data.snapshot("before"),
            after=data.snapshot("after"),
            inline=differ.render_html(recorded, context_lines=3),
            side_by_side=differ.render_side_by_side_html(recorded),
            events=[r for k, r in sorted(data.records.items()) if k.startswith("event:")],
            archives=archive_urls(data),
        )
    )


def archive_urls(data: PackData) -> list[str]:
    return [r["archive_url"] for k, r in sorted(data.records.items()) if k.startswith("archive:")]


def manifest(data: PackData) -> dict[str, Any]:
    change = data.change
    return {
        "format": FORMAT,
        "change_id": data.change_id,
        "source_id": change["source_id"],
        "summary": change["summary"],
        "detected_at": change["detected_at"],
        "before": _side(data, "before"),
        "after": _side(data, "after"),
        "chain": {
            "first_seq": data.segment[0].seq if data.segment else None,
            "last_seq": data.segment[-1].seq if data.segment else None,
            "records": sorted(data.records),
        },
        "timestamps": [
            {
                "seq": t.seq,
                "tsa_url": t.tsa_url,
                "token": f"timestamps/{t.seq}-{i}.tsr",
                "head": f"timestamps/head-{t.seq}.txt",
                "ca": f"timestamps/tsa-{i}.pem",
            }
            for i, t in enumerate(data.tokens)
        ],
        "archive_urls": archive_urls(data),
        "screenshots": sorted(f"screenshots/{name}" for name in data.screenshots),
    }


def _side(data: PackData, side: str) -> dict[str, Any]:
    snap = data.snapshot(side)
    return {
        "snapshot_id": snap["id"],
        "url": snap["url"],
        "fetched_at": snap["fetched_at"],
        "body_sha256": snap["body_hash"],
        "text_sha256": snap["text_hash"],
        "text": f"{side}.txt",
    }


def readme(data: PackData) -> str:
    from monitor.audit.report import environment

    return (
        environment()
        .get_template("evidence_readme.txt")
        .render(
            m=manifest(data),
            name=data.folder.rstrip("/"),
            warc=f"change-{data.change_id}.warc.gz",
            tokens=list(enumerate(data.tokens)),
            stamped_last=max((t.seq for t in data.tokens), default=None),
        )
    )


# -- reading and verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PackVerified:
    """What a pack proved."""

    change_id: int
    source_id: str
    entries: int
    tokens: list[tuple[PackToken, Any]]  # with the checked Token (time, signer)
    unstamped_after: int | None  # the last seq a token covers, when entries follow it
    fingerprints: dict[str, str]  # CA file -> sha256 fingerprint of its certificate

    def lines(self) -> list[str]:
        out = [
            f"evidence pack for change #{self.change_id} of {self.source_id}: verified "
            f"{self.entries} chain entries, both versions as fetched, their texts and the diff"
        ]
        for token, checked in self.tokens:
            out.append(
                f"chain entry seq {token.seq} existed at {checked.gen_time:%Y-%m-%d %H:%M:%S} UTC: "
                f"timestamp by {token.tsa_url} ({checked.signer})"
            )
        for name, fingerprint in self.fingerprints.items():
            out.append(
                f"  {name}: root certificate sha256 fingerprint {fingerprint} (compare with the TSA's)"
            )
        if not self.tokens:
            out.append("no timestamp covers this change yet: the pack shows consistency, not time")
        elif self.unstamped_after is not None:
            out.append(f"entries after seq {self.unstamped_after} are not covered by a timestamp yet")
        return out


def read(raw: bytes) -> tuple[PackData, dict[str, bytes]]:
    """The pack's files and the data they carry; any unreadable part is an IntegrityError."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = zf.namelist()
            files = {name: zf.read(name) for name in names}
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        EOFError,
        zlib.error,
    ) as exc:
        raise IntegrityError(f"not a readable zip file: {exc}") from None
    folders = {name.split("/", 1)[0] for name in files}
    if len(folders) != 1 or not next(iter(folders)).startswith("change-"):
        raise IntegrityError("not an evidence pack: expected one folder change-N/ in the zip")
    folder = next(iter(folders)) + "/"
    inner = {name[len(folder) :]: data for name, data in files.items()}
    try:
        change_id = int(folder[len("change-") : -1])
        records = json.loads(_need(inner, "chain/records.json"))
        segment = [
            LedgerEntry(**json.loads(line))
            for line in _need(inner, "chain/ledger.jsonl").decode().splitlines()
        ]
        data = PackData(
            change_id=change_id,
            records=records,
            delta=_need(inner, "chain/delta.txt").decode(),
            bodies={},
            texts={side: _need(inner, f"{side}.txt").decode() for side in ("before", "after")},
            segment=segment,
            tokens=_tokens(inner),
            screenshots={
                n.removeprefix("screenshots/"): b for n, b in inner.items() if n.startswith("screenshots/")
            },
        )
        data.change  # noqa: B018  (raises KeyError when the change record is missing)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"the pack's records cannot be read: {type(exc).__name__}: {exc}") from None
    return data, inner


def _need(files: Mapping[str, bytes], name: str) -> bytes:
    if name not in files:
        raise IntegrityError(f"the pack has no {name}")
    return files[name]


def _tokens(files: Mapping[str, bytes]) -> list[PackToken]:
    """``timestamps/SEQ-I.tsr`` with ``timestamps/tsa-I.pem``; the TSA URL is in the manifest."""
    listed = json.loads(_need(files, "manifest.json")).get("timestamps", [])
    return [
        PackToken(
            seq=int(item["seq"]),
            tsa_url=str(item["tsa_url"]),
            token=_need(files, item["token"]),
            ca_pem=_need(files, item["ca"]),
        )
        for item in listed
    ]


def verify_pack(raw: bytes) -> PackVerified:
    """Check a pack on its own, without the database; raise IntegrityError at the first problem."""
    data, files = read(raw)
    _check_sums(files)
    _check_segment(data.segment)
    _check_records(data)
    bodies = _check_warc(data, files)
    data = PackData(**{**data.__dict__, "bodies": bodies})
    _check_texts(data)
    _check_screenshots(data)
    checked = _check_tokens(data)
    _check_rebuild(data, files, raw)
    last_stamped = max((t.seq for t in data.tokens), default=None)
    return PackVerified(
        change_id=data.change_id,
        source_id=data.change["source_id"],
        entries=len(data.segment),
        tokens=checked,
        unstamped_after=last_stamped
        if last_stamped is not None and last_stamped < data.segment[-1].seq
        else None,
        fingerprints={f"timestamps/tsa-{i}.pem": _fingerprint(t.ca_pem) for i, t in enumerate(data.tokens)},
    )


def _check_sums(files: Mapping[str, bytes]) -> None:
    listed: dict[str, str] = {}
    for line in _need(files, "SHA256SUMS").decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name, content in sorted(files.items()):
        if name == "SHA256SUMS":
            continue
        if name not in listed:
            raise IntegrityError(f"{name} is not in SHA256SUMS: it was added to the pack")
        if hashlib.sha256(content).hexdigest() != listed[name]:
            raise IntegrityError(f"{name} does not match its sha256 in SHA256SUMS: it was changed")
    missing = sorted(set(listed) - set(files))
    if missing:
        raise IntegrityError(f"{missing[0]} is listed in SHA256SUMS but not in the pack: it was removed")


def _check_segment(segment: Sequence[LedgerEntry]) -> None:
    if not segment:
        raise IntegrityError("the pack's chain segment is empty")
    for before, entry in zip([None, *segment], segment, strict=False):
        expected = chain.link(entry.prev_hash, entry.record_type, entry.record_id, entry.content_hash)
        if entry.hash != expected:
            raise IntegrityError(f"chain/ledger.jsonl: seq {entry.seq}: its hash does not match its fields")
        if before is not None and (entry.prev_hash != before.hash or entry.seq != before.seq + 1):
            raise IntegrityError(f"chain/ledger.jsonl: seq {entry.seq} does not link to seq {before.seq}")


def _check_records(data: PackData) -> None:
    for key, content in sorted(data.records.items()):
        record_type, _, rid = key.partition(":")
        entry = data.entry(record_type, int(rid))
        if entry is None:
            raise IntegrityError(f"chain/records.json: {key} has no entry in the pack's chain segment")
        if chain.content_hash(content) != entry.content_hash:
            raise IntegrityError(
                f"chain/records.json: {key} does not hash to its chain entry (seq {entry.seq}): it was edited"
            )
    if hashlib.sha256(data.delta.encode()).hexdigest() != data.change["delta"]:
        raise IntegrityError("chain/delta.txt is not the change's recorded delta: it was edited")


def _check_screenshots(data: PackData) -> None:
    for side in ("before", "after"):
        snap, shot = data.snapshot(side), data.screenshots.get(f"{side}.png")
        recorded = snap.get("screenshot_hash")
        if (shot is None) != (recorded is None) or (
            shot is not None and hashlib.sha256(shot).hexdigest() != recorded
        ):
            raise IntegrityError(
                f"screenshots/{side}.png is not the screenshot recorded for snapshot #{snap['id']}"
            )
    extra = sorted(set(data.screenshots) - {"before.png", "after.png"})
    if extra:
        raise IntegrityError(f"screenshots/{extra[0]} belongs to no snapshot: it was added")


def _check_texts(data: PackData) -> None:
    for side in ("before", "after"):
        if hashlib.sha256(data.texts[side].encode()).hexdigest() != data.snapshot(side)["text_hash"]:
            raise IntegrityError(
                f"{side}.txt is not the text recorded for snapshot #{data.snapshot(side)['id']}"
            )


def _check_warc(data: PackData, files: Mapping[str, bytes]) -> dict[str, bytes]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    name = f"change-{data.change_id}.warc.gz"
    try:
        responses = [
            (rec.rec_headers.get_header("WARC-Target-URI"), rec.content_stream().read())
            for rec in ArchiveIterator(io.BytesIO(_need(files, name)))
            if rec.rec_type == "response"
        ]
    except (ArchiveLoadFailed, OSError, ValueError, EOFError, zlib.error) as exc:
        raise IntegrityError(f"{name} cannot be read as a WARC: {exc}") from None
    if len(responses) != 2:
        raise IntegrityError(f"{name} holds {len(responses)} responses, not the two versions")
    bodies = {}
    for side, (uri, body) in zip(("before", "after"), responses, strict=True):
        snap = data.snapshot(side)
        if hashlib.sha256(body).hexdigest() != snap["body_hash"] or uri != snap["url"]:
            raise IntegrityError(
                f"{name}: the {side} response is not snapshot #{snap['id']} as fetched (its sha256 differs)"
            )
        bodies[side] = body
    return bodies


def _check_tokens(data: PackData) -> list[tuple[PackToken, Any]]:
    from monitor.audit import timestamps

    out = []
    for i, token in enumerate(data.tokens):
        entry = _entry_at(data, token.seq)
        try:
            roots = timestamps.load_roots_pem(token.ca_pem)
            if timestamps.canonical_pem(roots) != token.ca_pem:
                raise ValueError(f"timestamps/tsa-{i}.pem holds more than its certificate: it was changed")
            checked = timestamps.check(token.token, entry.hash, roots)
        except (timestamps.TokenError, ValueError) as exc:
            raise IntegrityError(f"timestamps/{token.seq}-{i}.tsr does not verify: {exc}") from None
        out.append((token, checked))
    return out


def _check_rebuild(data: PackData, files: Mapping[str, bytes], raw: bytes) -> None:
    """Every built file and the zip itself are exactly what the carried parts make."""
    rebuilt = members(data)
    for name in sorted(set(rebuilt) | set(files), key=lambda n: n == "SHA256SUMS"):  # the sums last
        if rebuilt.get(name) != files.get(name):
            raise IntegrityError(f"{name} is not what the pack's records make: it was changed")
    canonical = build(data)
    if canonical != raw:
        at = next((i for i, (a, b) in enumerate(zip(canonical, raw, strict=False)) if a != b), None)
        where = f"at byte {at}" if at is not None else f"in length ({len(raw)} bytes, not {len(canonical)})"
        raise IntegrityError(f"the zip file differs from the pack its contents make {where}: it was altered")


def _fingerprint(pem: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex(":")
    except ValueError:
        return "(not a certificate)"


# -- gathering from the store ------------------------------------------------------------------------


def gather_pack(audit: AuditStore, change_id: int, roots: Mapping[str, bytes]) -> PackData:
    """A change's pack data from the store; ``roots`` holds each configured TSA's root PEM."""
    from monitor.audit.evidence import gather
    from monitor.audit.timestamps import canonical_pem, load_roots_pem
    from monitor.store import stamps

    found = gather(audit, change_id)  # the bodies, checked against their hashes
    store = audit.store
    change = store.change(change_id)
    rows: dict[str, Any] = {
        f"snapshot:{found.before.snapshot_id}": store.snapshot(found.before.snapshot_id),
        f"snapshot:{found.after.snapshot_id}": store.snapshot(found.after.snapshot_id),
        f"change:{change_id}": change,
    }
    for event in audit.events_by_change().get(change_id, []):
        rows[f"event:{event.id}"] = event
    for archive in stamps.saved_archives(store.engine, change_id):
        rows[f"archive:{archive.id}"] = archive
    records = {
        key: json.loads(chain.canonical(chain.CONTENT[key.split(":")[0]](row))) for key, row in rows.items()
    }
    seqs = []
    for key in records:
        kind, _, rid = key.partition(":")
        entry = audit.ledger_entry(kind, int(rid))
        if entry is None:
            raise IntegrityError(f"{key.replace(':', ' #')} has no ledger entry: run `pledge-monitor verify`")
        seqs.append(entry.seq)
    tokens = []
    for url, pem in roots.items():
        row = stamps.first_token_after(store.engine, url, max(seqs))
        if row is not None and row.token is not None:
            tokens.append(PackToken(row.seq, url, row.token, canonical_pem(load_roots_pem(pem))))
    head = audit.head()
    assert head is not None
    last = max((t.seq for t in tokens), default=head.seq)
    return PackData(
        change_id=change_id,
        records=records,
        delta=change.delta,
        bodies={"before": found.before.body, "after": found.after.body},
        texts={
            "before": store.load_text(found.before.text_hash),
            "after": store.load_text(found.after.text_hash),
        },
        segment=audit.ledger_between(min(seqs), last),
        tokens=sorted(tokens, key=lambda t: (t.seq, t.tsa_url)),
        screenshots=screenshots(audit, found),
    )


def screenshots(audit: AuditStore, found: Evidence) -> dict[str, bytes]:
    """Screenshots of the two versions, where kept (their sha256 is in the snapshot records)."""
    sides = (("before", found.before), ("after", found.after))
    return {f"{side}.png": fetch.screenshot for side, fetch in sides if fetch.screenshot is not None}
