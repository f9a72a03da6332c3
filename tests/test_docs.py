"""The README and docs/ hold what they promise: every link resolves, every example runs.

The docs are read as a newcomer reads them: a link that leads nowhere, or an example that fails as
printed, is the first thing that loses one. Links must reach a file and a heading; each YAML example
must validate, each shell example must run (how: the comment above "the examples" below).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import BaseModel

from monitor.cli import main
from monitor.commands import TABLE
from monitor.watchlist import (
    ArchiveSpec,
    Defaults,
    PledgeSpec,
    Renewal,
    RouteSpec,
    SectionSpec,
    SourceSpec,
    TimestampsSpec,
    TsaSpec,
)
from tests.site import Site

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)(```+|~~~+)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


def prose(text: str) -> str:
    """The text outside fenced blocks: links in examples are not links."""
    kept, fence = [], ""
    for line in text.splitlines():
        found = FENCE.match(line)
        if found and not fence:
            fence = found.group(2)
        elif found and line.strip().startswith(fence):
            fence = ""
        elif not fence:
            kept.append(line)
    return "\n".join(kept)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in prose(page.read_text()).splitlines():
        if line.startswith("#"):
            base = slug(line.lstrip("#"))
            name, n = base, 1
            while name in found:
                name, n = f"{base}-{n}", n + 1
            found.add(name)
    return found


def links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(page.read_text()))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto: are not ours to check
    ]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        goal = (page.parent / path).resolve() if path else page
        if not goal.exists():
            shown = goal.relative_to(REPO) if goal.is_relative_to(REPO) else goal
            broken.append(f"{target}: no file {shown}")
        elif anchor and goal.suffix == ".md" and anchor not in anchors(goal):
            broken.append(f"{target}: no heading #{anchor} in {goal.relative_to(REPO)}")
    assert not broken, f"{page_id(page)}: " + "; ".join(broken)


def test_every_page_of_the_manual_is_in_its_table_of_contents() -> None:
    index = (REPO / "docs" / "index.md").read_text()
    listed = {target.partition("#")[0] for target in links(REPO / "docs" / "index.md")}
    pages = [p.name for p in PAGES if p.parent.name == "docs" and p.name != "index.md"]
    missing = [name for name in pages if name not in listed]
    assert not missing, f"docs/index.md does not list {missing}"
    assert "(../README.md)" in index


def test_the_readme_links_into_the_manual() -> None:
    targets = {target.partition("#")[0] for target in links(REPO / "README.md")}
    assert "docs/index.md" in targets
    assert {"docs/watchlist.md", "docs/audit.md", "docs/running.md"} <= targets


def test_the_index_lists_every_command() -> None:
    listed = set(re.findall(r"^\| `([a-z]+)", (REPO / "docs" / "index.md").read_text(), re.M))
    assert listed == set(TABLE), f"docs/index.md's command table differs from the CLI: {listed ^ set(TABLE)}"


def test_slugs_follow_github() -> None:
    assert slug(" After a crash (`kill -9`)") == "after-a-crash-kill--9"
    assert slug(" The dashboard: `serve`") == "the-dashboard-serve"
    assert slug(" 1. History: what was checked, what changed, what it attests") == (
        "1-history-what-was-checked-what-changed-what-it-attests"
    )


# --- the examples ----------------------------------------------------------------------------------
#
# Every fenced block says what it is. ```yaml is validated with `pledge-monitor validate`; ```sh and
# ```console are run, each page's blocks in order in one folder of their own (a reader walks a page
# that way), with the demo's database kept as the docs keep it (`pledge-demo/`). Other languages
# (text, json, ...) are shown, not run. A comment on the line before a block says more:
#
#   <!-- docs-test: skip="why it cannot run here" -->   not run (a daemon, Docker, a remote server)
#   <!-- docs-test: fixture -->          the demo command; the test runs it once, for every page
#   <!-- docs-test: file=NAME -->        a yaml block written to NAME in the page's folder
#   <!-- docs-test: invalid -->          a yaml block that validate must refuse (exit 1, an Error)
#   <!-- docs-test: fragment -->         a yaml fragment: validated inside a minimal watchlist
#   <!-- docs-test: fragment=sources --> a yaml fragment of list items under `sources:`
#   <!-- docs-test: needs=a,b -->        files the block refers to (made empty first)
#   <!-- docs-test: shows="words" -->    the block's commands print these words (the point of the example)
#
# In a console block each `$ ` line is a command and the lines after it its output; a command whose
# output starts with `Error:` must exit 1, every other command 0. Addresses a reader would type for
# their own server are pointed at the test's: 127.0.0.1:8000 at a free port, www.example.com at a
# local site serving the page the examples describe.

MARK = re.compile(r"^\s*<!-- docs-test: (.*) -->\s*$")
OPEN = re.compile(r"^( *)```(\S*)\s*$")
RUN = {"sh", "console"}
SHOWN = {"text", "json", "python", "html", "ini", "yaml", *RUN}
KEYS = {"skip", "fixture", "file", "invalid", "fragment", "needs", "shows"}
FIXTURE = "pledge-monitor demo --keep pledge-demo"
UNSET = ("PLEDGE_MONITOR_DB", "PLEDGE_MONITOR_WATCHLIST")  # the reader's own settings are not the docs'
EXAMPLE_PAGE = """<html lang="en"><head><title>Policy</title></head><body>
<nav>Home · Products</nav>
<article>
  <h1>Our facial recognition policy</h1>
  <p>We will not sell facial recognition technology to police departments in the United States until
  we have a national law in place, grounded in human rights, that will govern this technology.</p>
  <div class="share-buttons">Share on every network</div>
</article>
</body></html>
"""


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence
    lang: str
    text: str
    marks: dict[str, str]

    def __str__(self) -> str:
        return f"{page_id(self.page)}:{self.line}"


def parse_marks(comment: str) -> dict[str, str]:
    marks = {}
    for token in shlex.split(comment):
        key, _, value = token.partition("=")
        marks[key] = value
    return marks


def fenced(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, lang = len(opening.group(1)), opening.group(2)
        before = lines[i - 1] if i else ""
        comment = MARK.match(before)
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        text = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
        marks = parse_marks(comment.group(1)) if comment else {}
        found.append(Block(page, i + 1, lang, text, marks))
        i = end + 1
    return found


def runs(block: Block) -> bool:
    return block.lang in RUN and not block.marks.keys() & {"skip", "fixture"}


BLOCKS = [block for page in PAGES for block in fenced(page)]
YAML = [b for b in BLOCKS if b.lang == "yaml"]


@dataclass
class Command:
    text: str
    expect: int
    line: int


def commands(block: Block) -> list[Command]:
    """The commands of a block, joined across `\\` line ends and here-documents."""
    lines = block.text.splitlines()
    found: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if block.lang == "console" and not line.startswith("$ "):
            i += 1
            continue
        start = i
        text = line[2:] if block.lang == "console" else line
        if not text.strip() or text.lstrip().startswith("#"):
            i += 1
            continue
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", text)
        if heredoc:
            while i + 1 < len(lines) and lines[i].strip() != heredoc.group(1):
                i += 1
                text += "\n" + lines[i]
        i += 1
        output = lines[i] if i < len(lines) and block.lang == "console" else ""
        found.append(Command(text, 1 if output.startswith("Error:") else 0, block.line + 1 + start))
    return found


def test_every_block_says_what_it_is() -> None:
    problems = []
    for block in BLOCKS:
        if block.lang not in SHOWN:
            problems.append(f"{block}: a fenced block needs a language ({sorted(SHOWN)}), got {block.lang!r}")
        if set(block.marks) - KEYS:
            problems.append(f"{block}: unknown docs-test keys {sorted(set(block.marks) - KEYS)}")
        if "skip" in block.marks and not block.marks["skip"].strip():
            problems.append(f'{block}: skip needs its reason: skip="..."')
        if "fixture" in block.marks and block.text.strip() != FIXTURE:
            problems.append(f"{block}: the fixture is `{FIXTURE}`, the block says {block.text.strip()!r}")
        if block.lang == "console" and "skip" not in block.marks and not commands(block):
            problems.append(f"{block}: a console block without a `$ ` command: make it ```text")
    assert not problems, "\n".join(problems)


def test_the_examples_are_many() -> None:
    """The runner finds the blocks it should: a parser that found none would pass every page."""
    runnable = [b for b in BLOCKS if runs(b)]
    assert len(YAML) >= 10
    assert sum(len(commands(b)) for b in runnable) >= 25


def minimal_watchlist(block: Block) -> str:
    """A fragment, inside the smallest watchlist that can hold it."""
    loaded = yaml.safe_load(block.text)
    if block.marks["fragment"]:
        loaded = {block.marks["fragment"]: loaded}
    return yaml.safe_dump({"sources": [], **loaded}, sort_keys=False)


def substituted(text: str, places: Places) -> str:
    text = text.replace("127.0.0.1 8000", f"127.0.0.1 {places.port}")
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{places.port}")
    return text.replace("https://www.example.com/", places.example)


@dataclass(frozen=True)
class Places:
    port: int  # for the reader's own web server
    example: str  # www.example.com, served here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def places(site: Site) -> Places:
    site.put("/policy", EXAMPLE_PAGE)
    return Places(free_port(), site.url("/"))


def validate(folder: Path, name: str) -> Result:
    return CliRunner().invoke(main, ["validate", str(folder / name)])


def write_yaml(block: Block, folder: Path, places: Places) -> str:
    for need in filter(None, block.marks.get("needs", "").split(",")):
        (folder / need).parent.mkdir(parents=True, exist_ok=True)
        (folder / need).touch()
    name = block.marks.get("file") or f"example-{block.line}.yaml"
    text = minimal_watchlist(block) if "fragment" in block.marks else substituted(block.text, places)
    (folder / name).write_text(text)
    return name


@pytest.mark.parametrize("block", YAML, ids=str)
def test_yaml_example_validates(block: Block, tmp_path: Path, places: Places) -> None:
    name = write_yaml(block, tmp_path, places)
    result = validate(tmp_path, name)
    if "invalid" in block.marks:
        assert result.exit_code == 1, f"{block}: validate accepted an example shown as refused"
        assert result.output.startswith("Error:"), result.output
    else:
        assert result.exit_code == 0, f"{block}:\n{result.output}"


@dataclass(frozen=True)
class Demo:
    kept: Path  # the folder `demo --keep` wrote
    output: str  # what it printed


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo, kept as the docs keep it: the story runs once, each page gets a copy of its folder."""
    where = tmp_path_factory.mktemp("demo")
    home = Path.cwd()
    os.chdir(where)
    try:
        result = CliRunner().invoke(main, shlex.split(FIXTURE)[1:])
    finally:
        os.chdir(home)
    assert result.exit_code == 0, result.output
    return Demo(where / "pledge-demo", result.output)


def test_the_readme_excerpt_is_the_demo_in_order(demo: Demo) -> None:
    """Each line of the README's excerpt is a line the demo prints, in the demo's order."""
    readme = (REPO / "README.md").read_text()
    excerpt = readme.split("An excerpt of a real run", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    ports = re.compile(r"127\.0\.0\.1:\d+")
    printed = iter(ports.sub("127.0.0.1:PORT", line) for line in demo.output.splitlines())
    shown = [
        ports.sub("127.0.0.1:PORT", line) for line in excerpt.splitlines() if line.strip() not in ("", "…")
    ]
    assert len(shown) > 40
    for line in shown:
        assert any(line == seen for seen in printed), (
            f"not in the demo's output, or not in its order: {line!r}"
        )


class Session:
    """One page's examples, run in order in one folder, as a reader would in one terminal."""

    def __init__(self, folder: Path, places: Places) -> None:
        self.folder, self.places, self.last = folder, places, 0
        self.env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        for name in UNSET:
            self.env.pop(name, None)
        self.background: list[subprocess.Popen[bytes]] = []

    def run(self, command: str) -> tuple[int, str]:
        text = substituted(command, self.places)
        head, pipe, tail = text.partition(" | ")
        if simple(text):
            result = self.in_process(shlex.split(text, comments=True)[1:])
            status, output = result.exit_code, result.output
        elif pipe and simple(head):  # `pledge-monitor ... | head -2`: the pledge-monitor part in process
            first = self.in_process(shlex.split(head)[1:])
            failed = (first.exit_code, first.output)
            status, output = failed if first.exit_code else self.shell(tail, first.stdout)
        elif text.rstrip().endswith("&") and "&&" not in text:
            status, output = self.start(text.rstrip()[:-1])
        else:
            status, output = self.shell(f"(exit {self.last}); {text}")
        self.last = status
        return status, output

    def shell(self, text: str, stdin: str = "") -> tuple[int, str]:
        ran = subprocess.run(
            ["bash", "-c", text],
            cwd=self.folder,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return ran.returncode, ran.stdout + ran.stderr

    def in_process(self, args: list[str]) -> Result:
        """`pledge-monitor ARGS` as the CLI runs it, without paying its start-up for each example."""
        home = Path.cwd()
        os.chdir(self.folder)
        try:
            result = CliRunner().invoke(
                main, args, env=dict.fromkeys(("PLEDGE_MONITOR_DB", "PLEDGE_MONITOR_WATCHLIST"))
            )
        finally:
            os.chdir(home)
        return result

    def start(self, text: str) -> tuple[int, str]:
        """A server the page starts in the background: up before the next command, stopped at the end."""
        process = subprocess.Popen(
            ["bash", "-c", f"exec {text}"], cwd=self.folder, env=self.env, start_new_session=True
        )
        self.background.append(process)
        for port in {int(p) for p in re.findall(r"127\.0\.0\.1[ :](\d+)", text)}:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
        return 0, ""

    def stop(self) -> None:
        for process in self.background:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


def simple(command: str) -> bool:
    """A plain `pledge-monitor ...` line: no pipe, redirection, variable or second command."""
    if not command.startswith("pledge-monitor ") or "\n" in command.strip():
        return False
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    tokens = list(lexer)
    return "$" not in command and not any(set(t) <= set("();<>|&") for t in tokens)


RUN_PAGES = [
    p for p in PAGES if any(b.lang in RUN and not b.marks.keys() & {"skip", "fixture"} for b in fenced(p))
]


@pytest.mark.parametrize("page", RUN_PAGES, ids=page_id)
def test_shell_examples_run(page: Path, demo: Demo, tmp_path: Path, places: Places) -> None:
    shutil.copytree(demo.kept, tmp_path / "pledge-demo")
    session = Session(tmp_path, places)
    ran = 0
    try:
        for block in fenced(page):
            if block.marks.keys() & {"skip", "fixture"}:
                continue
            if block.lang == "yaml" and "file" in block.marks:
                write_yaml(block, tmp_path, places)
            if block.lang not in RUN:
                continue
            printed = ""
            for command in commands(block):
                status, output = session.run(command.text)
                ran, printed = ran + 1, printed + output
                assert status == command.expect, (
                    f"{page_id(page)}:{command.line}: `{command.text}` exited {status},"
                    f" the docs expect {command.expect}:\n{output}"
                )
            assert block.marks.get("shows", "") in printed, (
                f"{block}: no {block.marks['shows']!r} in\n{printed}"
            )
    finally:
        session.stop()
    assert ran


# --- the watchlist's keys ------------------------------------------------------------------------

KEYS_DOCUMENTED = {
    "watchlist.md": (Defaults, SourceSpec, PledgeSpec, Renewal, RouteSpec, SectionSpec),
    "audit.md": (TimestampsSpec, TsaSpec, ArchiveSpec),
}


def models(types: tuple[object, ...]) -> list[type[BaseModel]]:
    """The models behind each type: a union of source kinds is each of its kinds."""
    found: list[type[BaseModel]] = []
    for each in types:
        if isinstance(each, type) and issubclass(each, BaseModel):
            found.append(each)
        else:
            found += models(typing.get_args(each))
    return found


@pytest.mark.parametrize("page", sorted(KEYS_DOCUMENTED))
def test_every_key_of_the_watchlist_is_documented(page: str) -> None:
    """The manual names every key the watchlist takes: a key added without a word is found here."""
    text = (REPO / "docs" / page).read_text()
    missing = [
        f"{model.__name__}.{field.alias or name}"
        for model in models(KEYS_DOCUMENTED[page])
        for name, field in model.model_fields.items()
        if name != "name"  # a route's name is its key in `routes:`
        and f"`{field.alias or name}`" not in text
        and f"{field.alias or name}:" not in text
    ]
    assert not missing, f"docs/{page} does not name {missing}"
