"""YAML -> plain data, with the line of every key path: what lets every watchlist error say where.

Keys are taken as written (YAML 1.1 would read ``on:`` as True), duplicate keys are reported
(PyYAML silently keeps the last), and a plain file is read straight from libyaml's events so that a
10,000-source watchlist never holds a node tree. What would exhaust the stack or the memory (deep
nesting, aliases that expand a few lines into millions of values) and what YAML cannot read (bytes
that are not UTF-8, control characters) are errors with a line and a key, found in one cheap pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from monitor.errors import WatchlistError, WatchlistIssue

KeyPath = tuple[str | int, ...]

MAX_DEPTH = 32  # a watchlist needs about 5 levels; Python's composer recurses per level
MAX_EXPANSION = 100_000  # values aliases may add beyond ten per value written in the file


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text of a watchlist; bytes that are not UTF-8 are an error on their line and key."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        text = data.decode("utf-8", errors="replace")
        bad = data[exc.start : exc.end].hex(" ")
        message = f"not UTF-8 text (byte {bad}); save the file as UTF-8"
        raise WatchlistError([WatchlistIssue(filename, line, key_at_line(text, line), message)]) from None


def compose(
    text: str, filename: str, *, note_lines: bool = True
) -> tuple[object, dict[KeyPath, int], list[WatchlistIssue]]:
    """YAML -> plain data plus the line of every key path; duplicate keys are issues.

    A plain file (no anchors, aliases or merge keys: nearly every watchlist) is read straight from
    libyaml's events, never holding the node tree: a 10,000-source file then loads in a fraction
    of the memory. Anything else, and every syntax error, takes the composed path, whose messages
    are the ones we show.
    """
    _refuse_unprintable(text, filename)
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        loader = fast(text)
        reader = _EventReader(loader, filename, note_lines)
        try:
            return reader.read(), reader.lines, reader.issues
        except (_NotPlain, yaml.YAMLError):
            pass
        finally:
            loader.dispose()
    _guard(text, filename)
    return _compose_with(yaml.SafeLoader, text, filename)


def _refuse_unprintable(text: str, filename: str) -> None:
    """A NUL or another control character: YAML refuses it with a character offset; give the line."""
    found = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if found is None:
        return
    line = text.count("\n", 0, found.start()) + 1
    cleaned = yaml.reader.Reader.NON_PRINTABLE.sub(" ", text)
    message = f"control character U+{ord(found.group()[0]):04X} is not allowed in YAML; remove it"
    raise WatchlistError([WatchlistIssue(filename, line, key_at_line(cleaned, line), message)])


def key_at_line(text: str, line: int) -> str:
    """The deepest key on or before ``line``: where a problem found outside YAML's reading lies."""
    try:
        _, lines, _ = compose(text, "", note_lines=True)
    except WatchlistError:
        return ""
    before = [path for path, at in lines.items() if at <= line]
    return key_text(max(before, key=lambda path: (lines[path], len(path)), default=()))


@dataclass
class _Frame:
    """An open mapping or sequence while guarding: what it holds so far and where we are in it."""

    anchor: str | None
    mapping: bool
    values: int = 1
    at: str | int = 0  # the current key of a mapping, the index in a sequence
    key_next: bool = True  # in a mapping: the next node is a key


def _guard(text: str, filename: str) -> None:
    """Refuse deep nesting and alias bombs before composing, from the parser's events.

    Composing nests Python calls per level, and reading the composed tree copies every alias:
    9 levels of 9 aliases are 387 million values from 10 lines. Counting values as aliases would
    expand them costs one pass over the events and memory per anchor. libyaml stops at 1,000
    levels with an error of its own; the pure Python parser, which does not recurse, then looks.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is None or not _guard_with(fast, text, filename):
        _guard_with(yaml.SafeLoader, text, filename)


def _guard_with(loader_class: type[yaml.SafeLoader], text: str, filename: str) -> bool:
    """True when the whole file was read; False at a syntax error (composing reports it)."""
    loader = loader_class(text)
    sizes: dict[str, int] = {}
    stack: list[_Frame] = []
    written = expanded = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                written += 1
                stack.append(_Frame(event.anchor, isinstance(event, yaml.MappingStartEvent)))
                if len(stack) > MAX_DEPTH:
                    _refuse(filename, event, stack[:-1], f"nested more than {MAX_DEPTH} levels deep")
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                frame = stack.pop()
                _node_done(stack, frame.anchor, frame.values, sizes, None)
            elif isinstance(event, yaml.ScalarEvent):
                written += 1
                _node_done(stack, event.anchor, 1, sizes, event.value)
            elif isinstance(event, yaml.AliasEvent):
                size = sizes.get(event.anchor or "", 1)
                expanded += size
                if expanded > MAX_EXPANSION + 10 * written:
                    message = (
                        f"aliases expand this file to over {expanded:,} values (an alias bomb?); "
                        "expected plain data"
                    )
                    _refuse(filename, event, stack, message)
                _node_done(stack, None, size, sizes, None)
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()
    return True


def _node_done(
    stack: list[_Frame], anchor: str | None, values: int, sizes: dict[str, int], key: object
) -> None:
    if anchor:
        sizes[anchor] = values
    if not stack:
        return
    parent = stack[-1]
    parent.values += values
    if not parent.mapping:
        parent.at = int(parent.at) + 1
    elif parent.key_next:
        parent.at, parent.key_next = (key if isinstance(key, str) else "?"), False
    else:
        parent.key_next = True


def _refuse(filename: str, event: yaml.Event, within: list[_Frame], message: str) -> None:
    line = event.start_mark.line + 1 if event.start_mark is not None else None
    path = tuple(f.at for f in within if not (f.mapping and f.key_next))
    raise WatchlistError([WatchlistIssue(filename, line, key_text(path[:3]), message)])


class _NotPlain(Exception):
    """The file uses anchors, aliases, merge keys or several documents: compose it instead."""


class _EventReader:
    """Builds plain data from parser events, remembering lines, refusing duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, filename: str, note_lines: bool) -> None:
        self.loader, self.filename, self.note_lines = loader, filename, note_lines
        self.lines: dict[KeyPath, int] = {(): 1}
        self.issues: list[WatchlistIssue] = []

    def read(self) -> object:
        self.expect(yaml.StreamStartEvent)
        if self.loader.check_event(yaml.StreamEndEvent):
            return None
        self.expect(yaml.DocumentStartEvent)
        data = self.value(())
        self.expect(yaml.DocumentEndEvent)
        self.expect(yaml.StreamEndEvent)
        return data

    def expect(self, kind: type[yaml.Event]) -> yaml.Event:
        event = self.loader.get_event()
        if not isinstance(event, kind):
            raise _NotPlain
        return event

    def value(self, path: KeyPath) -> object:
        event = self.loader.get_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _NotPlain
        if len(path) > MAX_DEPTH:
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            message = f"nested more than {MAX_DEPTH} levels deep"
            raise WatchlistError([WatchlistIssue(self.filename, line, key_text(path[:3]), message)])
        if self.note_lines:
            self.lines.setdefault(path, event.start_mark.line + 1)
        if isinstance(event, yaml.MappingStartEvent):
            return self.mapping(path)
        if isinstance(event, yaml.SequenceStartEvent):
            items: list[object] = []
            while not self.loader.check_event(yaml.SequenceEndEvent):
                items.append(self.value((*path, len(items))))
            self.loader.get_event()
            return items
        if not isinstance(event, yaml.ScalarEvent):
            raise _NotPlain
        return self.scalar(event, path)

    def mapping(self, path: KeyPath) -> dict[str, object]:
        result: dict[str, object] = {}
        first_line: dict[str, int] = {}
        while not self.loader.check_event(yaml.MappingEndEvent):
            key = self.loader.get_event()
            if not isinstance(key, yaml.ScalarEvent) or key.anchor or self.is_merge(key):
                raise _NotPlain
            line = key.start_mark.line + 1 if key.start_mark is not None else 1
            key_path = (*path, key.value)
            if key.value in first_line:
                message = f"duplicate key {key.value!r} (first on line {first_line[key.value]})"
                self.issues.append(WatchlistIssue(self.filename, line, key_text(key_path), message))
            first_line.setdefault(key.value, line)
            # Keys are taken as written: YAML 1.1 would turn `on:` into True.
            if self.note_lines:
                self.lines[key_path] = line
            result[key.value] = self.value(key_path)
        self.loader.get_event()
        return result

    def is_merge(self, key: yaml.ScalarEvent) -> bool:
        tag: str = self.loader.resolve(yaml.ScalarNode, key.value, key.implicit)
        return tag == "tag:yaml.org,2002:merge"

    def scalar(self, event: yaml.ScalarEvent, path: KeyPath) -> object:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            line = event.start_mark.line + 1 if event.start_mark else None
            self.issues.append(
                WatchlistIssue(self.filename, line, key_text(path), f"unsupported YAML value: {exc.problem}")
            )
        except ValueError:  # an impossible date such as 2020-13-45: let validation explain
            pass
        return event.value


def _compose_with(
    loader_class: type[yaml.SafeLoader], text: str, filename: str
) -> tuple[object, dict[KeyPath, int], list[WatchlistIssue]]:
    loader = loader_class(text)
    reader = _NodeReader(loader, filename)
    try:
        node = loader.get_single_node()
        data = reader.read(node, ()) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise WatchlistError([_syntax_issue(exc, filename)]) from None
    except yaml.YAMLError as exc:
        raise WatchlistError([WatchlistIssue(filename, 1, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, reader.lines, reader.issues


def _syntax_issue(exc: yaml.MarkedYAMLError, filename: str) -> WatchlistIssue:
    mark = exc.problem_mark or exc.context_mark
    message = f"invalid YAML: {exc.problem or exc.context}"
    if exc.problem and exc.context and exc.context_mark is not None:
        message += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
    return WatchlistIssue(filename, mark.line + 1 if mark is not None else None, "", message)


class _NodeReader:
    """Builds plain data from composed nodes, remembering lines, refusing duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, filename: str) -> None:
        self.loader, self.filename = loader, filename
        self.lines: dict[KeyPath, int] = {(): 1}
        self.issues: list[WatchlistIssue] = []
        self.active: set[int] = set()
        self.checked: set[int] = set()  # mappings already flattened (reached again through an alias)

    def read(self, node: yaml.Node, path: KeyPath) -> object:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self.active:
            self.issue(path, node, "an alias refers to itself; expected plain data")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.read_mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.read(item, (*path, i)) for i, item in enumerate(node.value)]
            return self.read_scalar(node, path)
        finally:
            self.active.discard(id(node))

    def read_mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, object]:
        if id(node) not in self.checked:
            self.duplicate_keys(node, path)
            self.loader.flatten_mapping(node)
            self.checked.add(id(node))
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(path, key_node, "expected plain text keys")
                continue
            # Keys are taken as written: YAML 1.1 would turn `on:` into True.
            key_path = (*path, key_node.value)
            self.lines[key_path] = key_node.start_mark.line + 1
            result[key_node.value] = self.read(value_node, key_path)
        return result

    def duplicate_keys(self, node: yaml.MappingNode, path: KeyPath) -> None:
        """PyYAML would silently keep the last of two equal keys; a maintainer must hear of it."""
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first_line:
                self.issue(
                    (*path, key_node.value),
                    key_node,
                    f"duplicate key {key_node.value!r} (first on line {first_line[key_node.value]})",
                )
            first_line.setdefault(key_node.value, line)

    def read_scalar(self, node: yaml.Node, path: KeyPath) -> object:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.issue(path, node, f"unsupported YAML value: {exc.problem}")
        except ValueError:  # an impossible date such as 2020-13-45: let validation explain
            pass
        return node.value

    def issue(self, path: KeyPath, node: yaml.Node, message: str) -> None:
        self.issues.append(WatchlistIssue(self.filename, node.start_mark.line + 1, key_text(path), message))


def key_text(path: KeyPath) -> str:
    """``sources[1].interval``: the key path as a maintainer would point at it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
