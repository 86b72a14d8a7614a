"""The analysts' query language, parsed into a small AST and compiled for each store. Pure.

    "无法提现" AND 鑫盛贷 OR 跑路 NOT 辟谣
    (提现 OR 兑付) 报警 -辟谣

- a word or a quoted phrase ("..." or “...”) matches its jieba tokens in order (a phrase);
- adjacent terms are joined by AND; ``AND``, ``OR``, ``NOT`` (or a leading ``-``) and parentheses;
- precedence NOT > AND > OR;
- NOT needs something positive beside it (``提现 NOT 辟谣``), except a query that is only
  negative at the top (``NOT 辟谣``), which matches every post without the term.

``compile_fts5`` gives an FTS5 MATCH expression over the segmented column, ``compile_dsl`` the
equivalent OpenSearch/Elasticsearch bool query over ``text_seg``; ``terms`` lists the phrases to
highlight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from yujing.errors import InputError
from yujing.search.segment import tokens


@dataclass(frozen=True, slots=True)
class Phrase:
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Phrase | Not | And | Or

_TOKEN = re.compile(r'\s*(?:(?P<quote>"[^"]*"|“[^”]*”)|(?P<paren>[()（）])|(?P<word>[^\s()（）"“”]+))')
_OPS = {"AND": "AND", "OR": "OR", "NOT": "NOT", "&&": "AND", "||": "OR"}


def _lex(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        if m.group("quote"):
            out.append(("PHRASE", m.group("quote")[1:-1]))
        elif m.group("paren"):
            out.append(("(" if m.group("paren") in "(（" else ")", ""))
        elif m.group("word"):
            word = m.group("word")
            if word in _OPS:
                out.append((_OPS[word], ""))
            elif word.startswith("-") and len(word) > 1:
                out.extend([("NOT", ""), ("PHRASE", word[1:])])
            else:
                out.append(("PHRASE", word))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0

    def peek(self) -> str:
        return self.toks[self.i][0] if self.i < len(self.toks) else "END"

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, what: str) -> InputError:
        return InputError("bad_query", f"{what} in {self.text!r}; write e.g. \"无法提现\" AND 鑫盛贷 NOT 辟谣")

    def parse_or(self) -> Node | None:
        parts = [p for p in [self.parse_and()] if p is not None]
        while self.peek() == "OR":
            self.take()
            part = self.parse_and()
            if part is None:
                raise self.error("OR without a term after it")
            parts.append(part)
        return None if not parts else parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node | None:
        parts: list[Node] = []
        while self.peek() not in ("OR", ")", "END"):
            if self.peek() == "AND":
                self.take()
                if not parts:
                    raise self.error("AND without a term before it")
                continue
            part = self.parse_unary()
            if part is not None:
                parts.append(part)
        return None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_unary(self) -> Node | None:
        kind, value = self.take()
        if kind == "NOT":
            if self.peek() in ("OR", ")", "END", "AND"):
                raise self.error("NOT without a term after it")
            child = self.parse_unary()
            return None if child is None else Not(child)
        if kind == "(":
            inner = self.parse_or()
            if self.peek() != ")":
                raise self.error("unclosed parenthesis")
            self.take()
            return inner
        if kind == ")":
            raise self.error("unmatched ')'")
        words = tuple(tokens(value))
        return Phrase(words) if words else None


def _positive(node: Node) -> bool:
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_positive(c) for c in node.children)
    return True


def _check(node: Node, parser: _Parser, root: bool = False) -> None:
    """NOT only beside a positive term (or alone at the top); OR sides must be positive."""
    if isinstance(node, Not):
        if not root:
            raise parser.error("NOT needs a positive term beside it (提现 NOT 辟谣)")
        if isinstance(node.child, Not):
            raise parser.error("NOT NOT")
        _check(node.child, parser)
    elif isinstance(node, And):
        if not root and not _positive(node):
            raise parser.error("a group of only NOT terms (write 提现 NOT 辟谣)")
        for child in node.children:
            if isinstance(child, Not):
                _check(child, parser, root=True)
            else:
                _check(child, parser)
    elif isinstance(node, Or):
        for child in node.children:
            _check(child, parser)


def parse(text: str) -> Node | None:
    """Parse a query; ``None`` for an empty one. Raises InputError(bad_query) with the fix."""
    parser = _Parser(text)
    node = parser.parse_or()
    if parser.peek() != "END":
        raise parser.error("unmatched ')'")
    if node is not None:
        _check(node, parser, root=True)
    return node


def is_negative(node: Node) -> bool:
    """True when the query only excludes (``NOT 辟谣``): match everything, then subtract."""
    return not _positive(node)


def terms(node: Node | None) -> list[tuple[str, ...]]:
    """The positive phrases of a query, for highlighting."""
    if node is None or isinstance(node, Not):
        return []
    if isinstance(node, Phrase):
        return [node.words]
    return [t for c in node.children for t in terms(c)]


# ---- FTS5 -------------------------------------------------------------------------------------


def _fts_phrase(words: tuple[str, ...]) -> str:
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"'


def compile_fts5(node: Node) -> str:
    """An FTS5 MATCH expression. For a negative-only query, the expression of what to exclude."""
    if isinstance(node, Phrase):
        return _fts_phrase(node.words)
    if isinstance(node, Not):
        return compile_fts5(node.child)
    if isinstance(node, Or):
        return "(" + " OR ".join(compile_fts5(c) for c in node.children) + ")"
    pos = [compile_fts5(c) for c in node.children if not isinstance(c, Not)]
    neg = [compile_fts5(c.child) for c in node.children if isinstance(c, Not)]
    if not pos:
        return "(" + " OR ".join(neg) + ")"
    expr = "(" + " AND ".join(pos) + ")"
    return "(" + expr + "".join(f" NOT {n}" for n in neg) + ")" if neg else expr


# ---- OpenSearch / Elasticsearch DSL ----------------------------------------------------------


def compile_dsl(node: Node, field: str = "text_seg") -> dict[str, Any]:
    """The equivalent bool query over the whitespace-analysed segmented field."""
    if isinstance(node, Phrase):
        return {"match_phrase": {field: " ".join(node.words)}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_dsl(node.child, field)]}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_dsl(c, field) for c in node.children], "minimum_should_match": 1}}
    must = [compile_dsl(c, field) for c in node.children if not isinstance(c, Not)]
    must_not = [compile_dsl(c.child, field) for c in node.children if isinstance(c, Not)]
    body: dict[str, Any] = {"must_not": must_not} if must_not else {}
    if must:
        body["must"] = must
    return {"bool": body}


def _contains(words: tuple[str, ...], toks: list[str]) -> bool:
    n = len(words)
    return any(tuple(toks[i:i + n]) == words for i in range(len(toks) - n + 1))


def matches(node: Node, toks: list[str]) -> bool:
    """Evaluate the query on a token list (for small sets, e.g. warnings)."""
    if isinstance(node, Phrase):
        return _contains(node.words, toks)
    if isinstance(node, Not):
        return not matches(node.child, toks)
    if isinstance(node, Or):
        return any(matches(c, toks) for c in node.children)
    return all(matches(c, toks) for c in node.children)
