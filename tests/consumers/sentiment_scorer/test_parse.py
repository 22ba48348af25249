"""parse_score on replies as small models really write them."""

from __future__ import annotations

import pytest

from consumers.sentiment_scorer.parse import parse_score


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"score": 40}', 40),
        ('{"score": -75}\n', -75),
        ('{"score": 0}', 0),
        ('{\n  "score": 62,\n  "reason": "mostly praise for the new release"\n}', 62),
        ('Here is my rating: {"score": 35}', 35),
        ('```json\n{"score": -20}\n```', -20),
        ('Sure! ```json\n{ "score" : 55 }\n``` The tweets are upbeat.', 55),
        ('{"result": {"score": 15}}', 15),
        ('{"score": 40, "range": "-100 to 100"}', 40),
    ],
)
def test_json_replies_give_their_score(reply: str, score: int) -> None:
    """The "score" of a JSON object is read, whether it is the whole reply or embedded in it."""
    assert parse_score(reply) == score


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("Score: -40", -40),
        ("score = 35", 35),
        ('"score": 12', 12),
        ("I think the score is 40", 40),
        ("Sentiment score: 72/100", 72),
        ("**Score:** 65", 65),
        ("Score: +30. The tweets are positive.", 30),
        ('{"score": "45"}', 45),
        ("{score: 50}", 50),
        ("SCORE: 80 out of 100", 80),
    ],
)
def test_a_number_right_after_the_word_score_is_the_fallback(reply: str, score: int) -> None:
    """Without usable JSON, the number labelled by the word "score" is read."""
    assert parse_score(reply) == score


@pytest.mark.parametrize(
    "reply",
    [
        "a score from -100 to 100",
        "-100 to 100",
        "Score: -100 to 100",
        "score between -100 and 100",
        'Reply with {"score": <integer from -100 to 100>}',
        '{"score": "-100 to 100"}',
        "Score: -100-100",
    ],
)
def test_an_echoed_range_is_no_score_not_its_lower_bound(reply: str) -> None:
    """Small models repeat the prompt's range; that is no score, and certainly not -100."""
    assert parse_score(reply) is None


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "I cannot determine the sentiment of these tweets.",
        "There are 3 positive and 2 negative tweets, about 60% positive.",
        "The tweets mention subnet 18 and 1000 TAO.",
        "Overall the sentiment is positive.",
        '{"sentiment": "positive"}',
        '{"score": null}',
        '{"score": true}',
        '{"score": NaN}',
        "{'score': }",
        "underscore 5",
    ],
)
def test_replies_without_a_labelled_score_are_no_score(reply: str) -> None:
    """Prose, garbage and unlabelled numbers give None: never the first number in the text."""
    assert parse_score(reply) is None


@pytest.mark.parametrize(("reply", "score"), [('{"score": 250}', 100), ("Score: -180", -100)])
def test_scores_are_clamped_to_the_scale(reply: str, score: int) -> None:
    """Out-of-range answers are clamped to [-100, 100]."""
    assert parse_score(reply) == score


@pytest.mark.parametrize(
    ("reply", "score"), [('{"score": 42.7}', 43), ("Score: -12.2", -12), ('{"score": 3e1}', 30)]
)
def test_fractional_scores_are_rounded(reply: str, score: int) -> None:
    """Floats are rounded to the nearest integer."""
    assert parse_score(reply) == score


def test_two_different_scores_are_ambiguous() -> None:
    """A reply that names two different scores gives no signal."""
    assert parse_score("Score: 40. A score of 0 would be neutral.") is None
    assert parse_score('{"score": 10} or maybe {"score": 90}') is None


def test_the_same_score_stated_twice_is_still_that_score() -> None:
    """Repetition is not ambiguity."""
    assert parse_score("Score: 40\n\nFinal score: 40") == 40


def test_json_takes_precedence_over_labelled_prose() -> None:
    """When a JSON score is present, prose around it is not read."""
    assert parse_score('A score of 0 is neutral. {"score": 25}') == 25


def test_reasoning_before_the_answer_is_ignored() -> None:
    """A reasoning model's <think> block is not the answer, even when it mentions a score."""
    assert parse_score('<think>Maybe a score of 10?</think>\n{"score": 20}') == 20
    assert parse_score("<think>The score should be from -100 to 100, so") is None


def test_the_typographic_minus_sign_is_a_minus() -> None:
    """U+2212, which some models emit, reads as a minus sign."""
    assert parse_score("Score: \u221230") == -30
