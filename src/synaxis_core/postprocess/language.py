"""The language monitor: flag answers in CJK script to prompts that are not.

Some models (GLM, for one) now and then answer an English prompt in Chinese. The
``LanguageMonitor`` never changes output; it appends ``"non-English output"`` to
``context.problems`` when the answer's letters are mostly CJK (Han, Hiragana,
Katakana, Hangul) while the prompt's are not, so the router counts it as a failure
of the model. Only ``content`` counts (not reasoning fields); when streaming it
counts letters as deltas pass (a few hundred at a time) and decides at the end; it does
not keep the output.

It stays quiet when:

* the answer has fewer than ``MIN_LETTERS`` letters;
* the whole prompt, or the last user message, is mostly CJK (an English system
  prompt in front of a Chinese question);
* the last user message names a CJK language ("translate this into Japanese").
  (Only the user's message: a system prompt saying "never answer in Chinese" must
  not silence the monitor.)
"""

from __future__ import annotations

import re
from typing import Any, Callable

from synaxis_core.postprocess.base import PostProcessContext
from synaxis_core.types import ModelSpec

PROBLEM = "non-English output"
MIN_LETTERS = 20
"""Answers with fewer letters than this are never flagged."""

_CJK_RANGES = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3005\u3007"  # ideographic iteration mark, ideographic zero
    "\u3040-\u309f"  # Hiragana
    "\u30a1-\u30fa\u30fc-\u30ff"  # Katakana (not the middle dot)
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f"  # Hangul Jamo extended A
    "\uac00-\ud7af"  # Hangul syllables
    "\ud7b0-\ud7ff"  # Hangul Jamo extended B
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
_CJK_RUNS = re.compile(f"[{_CJK_RANGES}]+")
_OTHER_NON_ASCII_LETTER_RUNS = re.compile(f"[^\\x00-\\x7f\\W\\d_{_CJK_RANGES}]+")
_ASCII_NON_LETTERS = bytes(i for i in range(128) if not chr(i).isalpha())
_NAMES_CJK_LANGUAGE = re.compile(
    r"\b(?:chinese|mandarin|cantonese|japanese|korean|hanzi|kanji|hangul|hiragana|katakana)\b"
    r"|中文|汉语|漢語|日本語|日语|한국어",
    re.IGNORECASE,
)


def letter_counts(text: str) -> tuple[int, int]:
    """``(cjk_letters, other_letters)`` in ``text``.

    ASCII letters are counted with ``bytes.translate`` (GB/s), the rest with
    compiled regexes over runs of letters; no per-character Python code.
    """
    if text.isascii():
        return 0, len(text.encode().translate(None, _ASCII_NON_LETTERS))
    ascii_letters = len(text.encode("ascii", "ignore").translate(None, _ASCII_NON_LETTERS))
    cjk = sum(map(len, _CJK_RUNS.findall(text)))
    other = sum(map(len, _OTHER_NON_ASCII_LETTER_RUNS.findall(text)))
    return cjk, ascii_letters + other


def _ratio(cjk: int, other: int) -> float:
    total = cjk + other
    return cjk / total if total else 0.0


def cjk_ratio(text: str) -> float:
    """The share of ``text``'s letters that are CJK, in ``[0, 1]`` (0 without letters).

    Digits, punctuation, symbols and whitespace are not letters and do not count.
    """
    return _ratio(*letter_counts(text))


class LanguageMonitor:
    """Flags answers whose letters are mostly CJK when the prompt's are not.

    :param name: the post-processor's unique name.
    :param applies: which deployments it watches (default: all).
    :param order: position in the chain; keep it after the think-tag stripper so that
        inline reasoning is out of ``content`` before letters are counted.
    :param threshold: the CJK share of letters above which text counts as CJK.
    """

    def __init__(
        self,
        name: str = "language-monitor",
        applies: Callable[[ModelSpec], bool] | None = None,
        order: int = 90,
        threshold: float = 0.5,
    ) -> None:
        self.name = name
        self.order = order
        self.threshold = threshold
        self._applies = applies

    def __repr__(self) -> str:
        return f"LanguageMonitor(name={self.name!r}, order={self.order}, threshold={self.threshold})"

    def applies_to(self, model: ModelSpec) -> bool:
        return True if self._applies is None else bool(self._applies(model))

    def prompt_is_cjk(self, context: PostProcessContext) -> bool:
        """Whether a CJK answer is what the prompt asks for (see the module docstring)."""
        if cjk_ratio(context.prompt_text) > self.threshold:
            return True
        users = [m for m in context.messages if isinstance(m, dict) and m.get("role") == "user"]
        last_user = PostProcessContext(model=context.model, messages=users[-1:]).prompt_text
        return cjk_ratio(last_user) > self.threshold or bool(_NAMES_CJK_LANGUAGE.search(last_user))

    def is_wrong_language(self, cjk: int, other: int, context: PostProcessContext) -> bool:
        """Whether an answer with these letter counts counts as a failure."""
        if cjk + other < MIN_LETTERS or _ratio(cjk, other) <= self.threshold:
            return False
        return not self.prompt_is_cjk(context)

    def process_message(self, message: dict[str, Any], context: PostProcessContext) -> dict[str, Any]:
        """Check a whole message; return it unchanged."""
        content = message.get("content")
        if isinstance(content, str) and self.is_wrong_language(*letter_counts(content), context):
            _report(context)
        return message

    def stream_state(self, context: PostProcessContext) -> _LanguageStream:
        return _LanguageStream(self, context)


def _report(context: PostProcessContext) -> None:
    if PROBLEM not in context.problems:
        context.problems.append(PROBLEM)


class _LanguageStream:
    """Per-stream letter counters, one pair per choice; decides at the flush.

    Deltas are counted in batches of ``_BATCH`` (a regex call per 20-character
    delta would cost more than the counting itself), so at most that many deltas
    per choice are held in memory.
    """

    _BATCH = 256

    def __init__(self, monitor: LanguageMonitor, context: PostProcessContext) -> None:
        self._monitor = monitor
        self._context = context
        self._counts: dict[int, list[int]] = {}
        """Per choice: ``[cjk_letters, other_letters]`` counted so far."""
        self._pending: dict[int, list[str]] = {}
        self._checked: set[int] = set()

    def feed(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        content = delta.get("content")
        if content and content.__class__ is str:
            pending = self._pending.get(index)
            if pending is None:
                pending = self._pending[index] = []
            pending.append(content)
            if len(pending) >= self._BATCH:
                self._count(index)
        return delta

    def _count(self, index: int) -> list[int]:
        counts = self._counts.setdefault(index, [0, 0])
        pending = self._pending.get(index)
        if pending:
            cjk, other = letter_counts("".join(pending))
            counts[0] += cjk
            counts[1] += other
            pending.clear()
        return counts

    def flush_choice(self, index: int) -> dict[str, Any]:
        """Choice ``index`` ended: judge it (once). Holds nothing back, returns ``{}``."""
        if index not in self._checked:
            self._checked.add(index)
            if self._monitor.is_wrong_language(*self._count(index), self._context):
                _report(self._context)
        return {}

    def flush(self) -> dict[int, dict[str, Any]]:
        for index in list(self._pending):
            self.flush_choice(index)
        return {}
