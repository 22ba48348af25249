"""Reading a score out of an LLM's reply, which small models rarely format as asked.

JSON comes first: the whole reply, or an object embedded in prose or a fenced block. Failing
that, a number right after the word "score". Never the first number in the text: small models
echo the prompt's range ("-100 to 100"), and reading that as -100 would trade on noise. A reply
that names two different scores is ambiguous, which is no score too.
"""

from __future__ import annotations

import json
import math
import re

# Reasoning models (Qwen3, DeepSeek-R1) think aloud first; only the answer after it counts.
_THINKING = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
# "score", optionally followed by quotes, markdown, ":", "=", "is" or "of", then the number.
# The possessive quantifiers take the whole number, so "-100 to 100" cannot match as "-10";
# the lookahead refuses a number that opens a range.
_LABELLED = re.compile(
    r"""(?<![a-z])score(?![a-z])(?:[\s"'`*:=]|\bis\b|\bof\b)*"""
    r"([+-]?\d++(?:\.\d+)?+)"
    r"(?!\s*(?:to|and|-|–|\.\.)\s*[+-]?\d)",
    re.IGNORECASE,
)
_DECODER = json.JSONDecoder()


def parse_score(text: str) -> int | None:
    """The score in ``text``, clamped to [-100, 100], or None when there is no clear one."""
    answer = _THINKING.sub("", text).replace("\u2212", "-")  # U+2212 is the typographic minus
    scores = _json_scores(answer) or [float(match) for match in _LABELLED.findall(answer)]
    distinct = {max(-100, min(100, round(score))) for score in scores}
    return distinct.pop() if len(distinct) == 1 else None


def _json_scores(text: str) -> list[float]:
    """The numeric "score" of every JSON object in ``text``, wherever it starts."""
    scores: list[float] = []
    for start in (match.start() for match in re.finditer(r"\{", text)):
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except ValueError:
            continue
        score = value.get("score") if isinstance(value, dict) else None
        if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
            scores.append(score)
    return scores
