"""Atlassian Document Format (ADF, Jira Cloud's rich text: a JSON tree of blocks and
inline nodes) to and from plain text, for the Jira connector's ``description``.

Plain text → ADF: the text is cut at each blank line (``"\\n\\n"``) into paragraphs,
and a single line end inside a paragraph is a hard break. ADF → plain text:
paragraphs and other blocks are separated by a blank line, a hard break is a line
end; headings, code blocks and quotes read as their text, a list as one line per
item (no marker; nested items follow their parent), a table as one line per row
with its cells separated by `` | ``; mentions, emoji, dates and status lozenges as
the text they show, links (inline cards) as their URL. Media, rules and extensions
have no text and are left out.

A text read from ADF that this module wrote reads back exactly: ``to_text(from_text(t))
== t`` for every ``t`` (line ends ``\\r\\n`` and ``\\r`` are read as ``\\n``). ADF
written by a person in Jira (lists, headings, marks such as bold) is read as text;
writing that text back makes it plain paragraphs: formatting is not carried.
"""

from datetime import UTC, datetime
from typing import Any

# Blocks whose content is blocks again, read as those blocks.
_CONTAINERS = {"blockquote", "panel", "expand", "nestedExpand", "layoutSection", "layoutColumn", "bodiedExtension"}
_LISTS = {"bulletList", "orderedList", "taskList", "decisionList"}
_ITEMS = {"listItem", "taskItem", "decisionItem"}


def normalize(text: str) -> str:
    """``text`` with its line ends as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def from_text(text: str | None) -> dict | None:
    """The ADF document of plain ``text`` (see the module's docstring); None for an
    empty text (Jira's empty description)."""
    text = normalize(text or "")
    if not text:
        return None
    blocks = []
    for paragraph in text.split("\n\n"):
        content: list[dict] = []
        for index, line in enumerate(paragraph.split("\n")):
            if index:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        blocks.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": blocks}


def to_text(document: Any) -> str:
    """The plain text of an ADF ``document`` (a dict with ``"type": "doc"``); ""
    for None. A plain string (Jira Server's wiki text, or a v2 answer) is given back
    with its line ends normalized; anything else that is not ADF reads as ""."""
    if document is None:
        return ""
    if isinstance(document, str):
        return normalize(document)
    if not isinstance(document, dict):
        return ""
    return "\n\n".join(_blocks(document.get("content") or []))


def _blocks(nodes: list) -> list[str]:
    """The texts of block ``nodes``, one per block (an empty paragraph is "", other
    blocks without text are left out)."""
    texts = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        content = node.get("content") or []
        if kind in ("paragraph", "heading", "codeBlock"):
            texts.append(_inline(content))
        elif kind in _CONTAINERS:
            texts.extend(_blocks(content))
        elif kind in _LISTS:
            lines = _list_lines(content)
            if lines:
                texts.append("\n".join(lines))
        elif kind == "table":
            rows = [
                " | ".join("\n".join(_blocks(cell.get("content") or [])) for cell in row.get("content") or [])
                for row in content
                if isinstance(row, dict)
            ]
            if rows:
                texts.append("\n".join(rows))
        else:  # media, rule, extension, or a block this module does not know
            text = _inline(content)
            if text:
                texts.append(text)
    return texts


def _list_lines(items: list) -> list[str]:
    """One line per item of a list's ``items`` (nested lists after their parent)."""
    lines = []
    for item in items:
        if not isinstance(item, dict):
            continue
        content = item.get("content") or []
        if item.get("type") in _ITEMS:
            inline = [node for node in content if isinstance(node, dict) and node.get("type") not in _LISTS]
            nested = [node for node in content if isinstance(node, dict) and node.get("type") in _LISTS]
            # A task item holds inline nodes; a list item holds paragraphs.
            text = _inline(inline) if all(_is_inline(node) for node in inline) else "\n".join(_blocks(inline))
            if text:
                lines.append(text)
            for sub in nested:
                lines.extend(_list_lines(sub.get("content") or []))
        elif item.get("type") in _LISTS:
            lines.extend(_list_lines(content))
    return lines


def _is_inline(node: dict) -> bool:
    return node.get("type") in ("text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status")


def _inline(nodes: list) -> str:
    """The text of inline ``nodes`` (a hard break is a line end)."""
    parts = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        attrs = node.get("attrs") or {}
        if kind == "text":
            parts.append(str(node.get("text") or ""))
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind == "mention":
            parts.append(str(attrs.get("text") or ""))
        elif kind == "emoji":
            parts.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind == "inlineCard":
            parts.append(str(attrs.get("url") or ""))
        elif kind == "status":
            parts.append(str(attrs.get("text") or ""))
        elif kind == "date":
            parts.append(_date(attrs.get("timestamp")))
        elif node.get("content"):
            inner = [child for child in node["content"] if isinstance(child, dict)]
            parts.append(_inline(inner) if all(map(_is_inline, inner)) else "\n".join(_blocks(inner)))
    return "".join(parts)


def _date(timestamp: Any) -> str:
    """An ADF date node's day (its ``timestamp`` is milliseconds since the epoch, UTC)."""
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, UTC).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
