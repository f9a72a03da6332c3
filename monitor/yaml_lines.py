"""YAML -> plain data, with the line of every key path: what lets every watchlist error say where.

Keys are taken as written (YAML 1.1 would read ``on:`` as True), duplicate keys are reported
(PyYAML silently keeps the last), and a plain file is read straight from libyaml's events so that a
10,000-source watchlist never holds a node tree.
"""

from __future__ import annotations

import yaml

from monitor.errors import WatchlistError, WatchlistIssue

KeyPath = tuple[str | int, ...]


def compose(
    text: str, filename: str, *, note_lines: bool = True
) -> tuple[object, dict[KeyPath, int], list[WatchlistIssue]]:
    """YAML -> plain data plus the line of every key path; duplicate keys are issues.

    A plain file (no anchors, aliases or merge keys: nearly every watchlist) is read straight from
    libyaml's events, never holding the node tree: a 10,000-source file then loads in a fraction
    of the memory. Anything else, and every syntax error, takes the composed path, whose messages
    are the ones we show.
    """
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
    return _compose_with(yaml.SafeLoader, text, filename)


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
        return self.loader.resolve(yaml.ScalarNode, key.value, key.implicit) == "tag:yaml.org,2002:merge"

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
