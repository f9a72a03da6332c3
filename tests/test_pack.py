"""Evidence packs: one zip per change that verifies with standard tools (openssl ts -verify,
warcio, sha256sum) and with ``verify --pack`` alone, and fails after any byte of it changes."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from warcio.archiveiterator import ArchiveIterator

from monitor.audit import pack
from monitor.cli import main
from monitor.errors import IntegrityError
from monitor.store.repo import Store
from tests.audit_history import ARTICLE_WEAK, ARTICLE_XSS, Recorded, copy_of, record
from tests.site import policy_page
from tests.test_screenshots import changed, site
from tests.test_screenshots import run as run_in
from tests.tsa import Tsa, running_tsa

__all__ = ["changed", "site"]  # fixtures: a change whose snapshots have screenshots


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tsa]:
    with running_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


def cli(db: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["-w", str(db.parent / "watchlist.yaml"), "--db", f"sqlite:///{db}", *args]
    )


def stamped_db(recorded: Recorded, folder: Path, tsa: Tsa) -> Path:
    db = copy_of(recorded, folder)
    shutil.copy(tsa.ca, folder / "tsa.pem")
    with (folder / "watchlist.yaml").open("a") as f:
        f.write(f"timestamps:\n  tsa:\n    - url: {tsa.url}\n      ca: tsa.pem\n")
    result = cli(db, "stamp")
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="module")
def packed(recorded: Recorded, tsa: Tsa, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Change #2 (the clause weakened) packed after the chain head was timestamped."""
    folder = tmp_path_factory.mktemp("packed")
    db = stamped_db(recorded, folder / "db", tsa)
    out = folder / "change-2.zip"
    result = cli(db, "evidence", "2", "--pack", "--out", str(out))
    assert result.exit_code == 0, result.output
    (entries,) = (json.loads(zipfile.ZipFile(out).read("change-2/manifest.json"))["chain"]["last_seq"],)
    assert result.output.startswith(f"wrote {out}: change #2 of policy, ")
    assert result.output.endswith(" chain entries, 1 timestamp\n")
    del entries
    return out


@pytest.fixture(scope="module")
def unzipped(packed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(packed) as zf:
        zf.extractall(folder)
    return folder / "change-2"


def test_the_pack_holds_every_part(unzipped: Path) -> None:
    names = sorted(str(p.relative_to(unzipped)) for p in unzipped.rglob("*") if p.is_file())
    manifest = json.loads((unzipped / "manifest.json").read_text())
    (token,) = manifest["timestamps"]
    assert names == sorted(
        [
            "README.txt",
            "SHA256SUMS",
            "after.txt",
            "before.txt",
            "chain/delta.txt",
            "chain/ledger.jsonl",
            "chain/records.json",
            "change-2.warc.gz",
            "diff.html",
            "manifest.json",
            token["head"],
            token["token"],
            token["ca"],
        ]
    )
    records = json.loads((unzipped / "chain/records.json").read_text())
    assert sorted(records) == ["change:2", "event:4", "snapshot:3", "snapshot:4"]
    assert records["event:4"]["kind"] == "pledge.weakened"


def test_sha256sum_checks_every_file(unzipped: Path) -> None:
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=unzipped, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    files = [p for p in unzipped.rglob("*") if p.is_file()]
    assert checked.stdout.count(": OK") == len(files) - 1  # every file but SHA256SUMS itself


def test_openssl_verifies_the_token_over_the_chain_entry_it_names(unzipped: Path, tsa: Tsa) -> None:
    """Outside the tool: the README's command, and the head file is that entry's hash in the chain."""
    (token,) = json.loads((unzipped / "manifest.json").read_text())["timestamps"]
    command = [
        "openssl",
        "ts",
        "-verify",
        "-data",
        token["head"],
        "-in",
        token["token"],
        "-CAfile",
        token["ca"],
    ]
    assert " ".join(command) in (unzipped / "README.txt").read_text()
    checked = subprocess.run(command, cwd=unzipped, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "Verification: OK" in checked.stdout, checked.stderr
    assert (unzipped / token["ca"]).read_bytes() == tsa.ca.read_bytes()
    entries = [json.loads(line) for line in (unzipped / "chain/ledger.jsonl").read_text().splitlines()]
    stamped = next(e for e in entries if e["seq"] == token["seq"])
    assert (unzipped / token["head"]).read_text() == stamped["hash"]


def test_warcio_reads_both_versions_byte_for_byte(unzipped: Path, recorded: Recorded) -> None:
    with (unzipped / "change-2.warc.gz").open("rb") as stream:
        bodies = [r.content_stream().read() for r in ArchiveIterator(stream) if r.rec_type == "response"]
    assert bodies == [policy_page(ARTICLE_XSS).encode(), policy_page(ARTICLE_WEAK).encode()]
    manifest = json.loads((unzipped / "manifest.json").read_text())
    assert [hashlib.sha256(b).hexdigest() for b in bodies] == [
        manifest["before"]["body_sha256"],
        manifest["after"]["body_sha256"],
    ]
    index = subprocess.run(
        [str(Path(sys.executable).parent / "warcio"), "index", "change-2.warc.gz"],
        cwd=unzipped,
        capture_output=True,
        text=True,
    )
    assert index.returncode == 0, index.stderr
    assert index.stdout.count('"response"') == 2, index.stderr


def test_the_readme_chain_script_checks_the_segment(unzipped: Path) -> None:
    """The README's one-liner for the chain runs as printed and accepts the segment."""
    readme = (unzipped / "README.txt").read_text()
    start = readme.index("python3 -c '") + len("python3 -c '")
    first, *rest = readme[start : readme.index("'\n", start)].splitlines()
    script = "\n".join([first, *(line[4:] for line in rest)])
    ran = subprocess.run([sys.executable, "-c", script], cwd=unzipped, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    last = json.loads((unzipped / "chain/ledger.jsonl").read_text().splitlines()[-1])
    assert ran.stdout == f"chain OK up to {last['hash']}\n"


def test_the_diff_shows_the_weakening(unzipped: Path) -> None:
    html = (unzipped / "diff.html").read_text()
    assert "<ins>currently</ins>" in html.replace(" ", "") or "currently</ins>" in html
    assert "<script>document.title" not in html  # monitored markup stays text


def test_verify_pack_checks_it_alone(packed: Path, tsa: Tsa, tmp_path: Path) -> None:
    lonely = tmp_path / "elsewhere.zip"  # no database, no watchlist
    shutil.copy(packed, lonely)
    result = CliRunner().invoke(main, ["-w", str(tmp_path / "none.yaml"), "verify", "--pack", str(lonely)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("evidence pack for change #2 of policy: verified ")
    assert lines[0].endswith(" chain entries, both versions as fetched, their texts and the diff")
    assert lines[1].startswith("chain entry seq ")
    assert f"UTC: timestamp by {tsa.url} (CN=Test TSA)" in lines[1]
    assert lines[2].startswith("  timestamps/tsa-0.pem: root certificate sha256 fingerprint ")
    assert not (tmp_path / "pledge-monitor.db").exists()


def test_the_pack_is_the_same_bytes_when_made_again(packed: Path, recorded: Recorded, tsa: Tsa) -> None:
    db = packed.parent / "db" / recorded.db.name
    again = packed.parent / "again.zip"
    assert cli(db, "evidence", "2", "--pack", "--out", str(again)).exit_code == 0
    assert again.read_bytes() == packed.read_bytes()


def flipped(raw: bytes, at: int) -> bytes:
    out = bytearray(raw)
    out[at] ^= 0x01
    return bytes(out)


def test_any_changed_byte_fails(packed: Path) -> None:
    """Every byte of the file: headers, each member, the central directory."""
    raw = packed.read_bytes()
    pack.verify_pack(raw)
    step = max(1, len(raw) // 1500)
    positions = sorted(set(range(0, len(raw), step)) | set(range(len(raw) - 200, len(raw))))
    passed = []
    for at in positions:
        try:
            pack.verify_pack(flipped(raw, at))
        except IntegrityError:
            continue
        passed.append(at)
    assert passed == [], f"{len(passed)} changed bytes went unnoticed, e.g. at {passed[:5]}"


def rezip(raw: bytes, change: dict[str, bytes], compression: int | None = None) -> bytes:
    """The pack with some members replaced, written as a forger would (consistent zip, new CRCs)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            content = change.get(info.filename, zin.read(info.filename))
            if compression is not None:
                info.compress_type = compression
            zout.writestr(info, content)
    return out.getvalue()


def message(raw: bytes) -> str:
    with pytest.raises(IntegrityError) as caught:
        pack.verify_pack(raw)
    return str(caught.value)


def with_sums(raw: bytes, name: str, content: bytes, folder: str = "change-2/") -> bytes:
    """Replace a member (``folder`` + ``name``) and fix SHA256SUMS to match, as a careful forger would."""
    top = folder.split("/")[0] + "/"
    member = folder.removeprefix(top) + name
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        sums = zf.read(f"{top}SHA256SUMS").decode()
    lines = [
        f"{hashlib.sha256(content).hexdigest()}  {member}" if line.endswith(f"  {member}") else line
        for line in sums.splitlines()
    ]
    return rezip(raw, {f"{top}{member}": content, f"{top}SHA256SUMS": ("\n".join(lines) + "\n").encode()})


def test_a_changed_file_is_named(packed: Path) -> None:
    raw = packed.read_bytes()
    assert message(rezip(raw, {"change-2/after.txt": b"We will sell to police."})) == (
        "after.txt does not match its sha256 in SHA256SUMS: it was changed"
    )


def test_a_changed_text_with_matching_sums_is_named(packed: Path) -> None:
    raw = packed.read_bytes()
    assert message(with_sums(raw, "after.txt", b"We will sell to police.")) == (
        "after.txt is not the text recorded for snapshot #4"
    )


def test_an_edited_record_with_matching_sums_is_named(packed: Path) -> None:
    raw = packed.read_bytes()
    records = json.loads(zipfile.ZipFile(io.BytesIO(raw)).read("change-2/chain/records.json"))
    records["event:4"]["title"] = "nothing happened"
    edited = (json.dumps(records, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    seq = message(with_sums(raw, "chain/records.json", edited))
    assert seq.startswith("chain/records.json: event:4 does not hash to its chain entry (seq ")
    assert seq.endswith("): it was edited")


def test_a_rewritten_diff_with_matching_sums_is_named(packed: Path) -> None:
    raw = packed.read_bytes()
    html = zipfile.ZipFile(io.BytesIO(raw)).read("change-2/diff.html").replace(b"currently", b"no longer")
    assert message(with_sums(raw, "diff.html", html)) == (
        "diff.html is not what the pack's records make: it was changed"
    )


def test_a_forged_token_with_matching_sums_is_named(packed: Path, tmp_path: Path) -> None:
    raw = packed.read_bytes()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(raw)).read("change-2/manifest.json"))
    (token,) = manifest["timestamps"]
    original = zipfile.ZipFile(io.BytesIO(raw)).read(f"change-2/{token['token']}")
    forged = flipped(original, len(original) // 2)
    result = message(with_sums(raw, token["token"], forged))
    assert result.startswith(f"{token['token']} does not verify: ")


def test_a_zip_rewritten_by_another_tool_is_named(packed: Path) -> None:
    """Same files, same bytes, but not the pack's own container (compressed): it shows."""
    assert rezip(packed.read_bytes(), {}) == packed.read_bytes()  # the pack's own way: the same bytes
    assert message(rezip(packed.read_bytes(), {}, zipfile.ZIP_DEFLATED)).startswith(
        "the zip file differs from the pack its contents make at byte "
    )


def test_a_pack_of_a_change_not_yet_timestamped_says_so(recorded: Recorded, tmp_path: Path) -> None:
    db = copy_of(recorded, tmp_path / "db")
    out = tmp_path / "p.zip"
    result = cli(db, "evidence", "3", "--pack", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        ", 0 timestamps (none covers this change yet: run `pledge-monitor stamp`, then pack again)\n"
    )
    verified = pack.verify_pack(out.read_bytes())
    assert verified.lines()[-1] == "no timestamp covers this change yet: the pack shows consistency, not time"
    assert "4. NO TIMESTAMP YET" in zipfile.ZipFile(out).read("change-3/README.txt").decode()


def test_a_pack_refuses_a_tampered_store(recorded: Recorded, tmp_path: Path) -> None:
    db = copy_of(recorded, tmp_path / "db")
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE events SET title = 'edited' WHERE id = 4")
    out = tmp_path / "p.zip"
    result = cli(db, "evidence", "2", "--pack", "--out", str(out))
    assert result.exit_code == 0  # packing copies the record; verify --pack shows it no longer hashes
    assert "chain/records.json: event:4 does not hash to its chain entry" in message(out.read_bytes())


# -- screenshots --------------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_pack_carries_the_screenshots_and_fails_when_one_byte_of_one_changes(
    changed: Store, tmp_path: Path
) -> None:
    """Chromium takes the pictures (tests/test_screenshots.py); the pack keeps them byte for byte."""
    out = tmp_path / "shots.zip"
    run_in(tmp_path, "evidence", "1", "--pack", "--out", str(out))
    raw = out.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        shots = {name: zf.read(f"change-1/screenshots/{name}") for name in ("before.png", "after.png")}
        manifest = json.loads(zf.read("change-1/manifest.json"))
    assert shots == {"before.png": changed.screenshot(1), "after.png": changed.screenshot(2)}
    assert manifest["screenshots"] == ["screenshots/after.png", "screenshots/before.png"]
    assert "verified" in run_in(tmp_path, "verify", "--pack", str(out))
    run_in(tmp_path, "evidence", "1", "--pack", "--out", str(tmp_path / "again.zip"))
    assert (tmp_path / "again.zip").read_bytes() == raw  # the screenshots' WARC records too

    at = raw.find(shots["after.png"]) + len(shots["after.png"]) // 2  # stored: the PNG's bytes as they are
    assert message(flipped(raw, at)).startswith("not a readable zip file: Bad CRC-32")
    forged = bytearray(shots["after.png"])
    forged[len(forged) // 2] ^= 0x01
    assert message(with_sums(raw, "after.png", bytes(forged), folder="change-1/screenshots/")) == (
        "screenshots/after.png is not the screenshot recorded for snapshot #2"
    )
