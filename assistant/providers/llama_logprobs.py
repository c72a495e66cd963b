"""Token generation with OpenAI-shaped logprobs, for the embedded llama.cpp model.

llama-cpp-python only reports logprobs for a model opened with ``logits_all=True`` (a score row
per context position: about 400 MB for SmolLM2 at 2,048 tokens, and slower prompts), sorts the
whole vocabulary in Python per token, and keys alternatives by their text (so two tokens that
print alike collapse). Here a logits processor, first in the sampler chain, sees each step's raw
logits; it keeps their log-softmax until the sampled token is known, and the top alternatives
come from a partial sort. The loop drives :meth:`Llama.generate` token by token, so each piece
of text carries the entries of the tokens that made it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LogprobEntry = dict[str, Any]
"""``{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}``."""


@dataclass(slots=True)
class _Recorder:
    """A logits processor that remembers the last step's log-softmax (and changes nothing)."""

    last: np.ndarray[Any, Any] | None = None

    def __call__(self, input_ids: Any, scores: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        logits = np.asarray(scores, dtype=np.float64)
        shifted = logits - logits.max()
        self.last = shifted - np.log(np.exp(shifted).sum())
        return scores


@dataclass(slots=True)
class TokenPiece:
    """Text that became final, with the logprob entries of the tokens that wrote it."""

    text: str
    entries: list[LogprobEntry] = field(default_factory=list)


def _entry(llama: Any, token: int, logprobs: np.ndarray[Any, Any], top: int) -> LogprobEntry:
    def described(ident: int) -> dict[str, Any]:
        raw = bytes(llama.detokenize([ident], special=True))
        return {
            "token": raw.decode("utf-8", errors="replace"),
            "logprob": float(logprobs[ident]),
            "bytes": list(raw),
        }

    entry = described(token)
    alternatives: list[dict[str, Any]] = []
    if top > 0:
        best = np.argpartition(-logprobs, top - 1)[:top]
        best = best[np.argsort(-logprobs[best], kind="stable")]
        alternatives = [described(int(ident)) for ident in best]
    entry["top_logprobs"] = alternatives
    return entry


@dataclass(frozen=True, slots=True)
class Finished:
    """The last item: why generation ended and how many tokens it produced."""

    reason: str
    """``stop``, ``length`` or ``cancelled``."""
    tokens: int


def generate_with_logprobs(
    llama: Any,
    prompt: list[int],
    *,
    top_logprobs: int,
    max_tokens: int,
    stop: list[str],
    sampling: dict[str, Any],
    grammar: Any = None,
    stopping_criteria: Any = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[TokenPiece | Finished]:
    """Generate from ``prompt``: final :class:`TokenPiece` s, then :class:`Finished`.

    Text that could still be the start of a stop sequence is held back until it cannot; a stop
    sequence ends the answer and is not part of it (a token that wrote text both before and in
    it keeps its entry).
    """
    from llama_cpp import LogitsProcessorList, llama_cpp

    recorder = _Recorder()
    llama.set_seed(int(sampling["seed"]) if sampling.get("seed") is not None else 0xFFFFFFFF)
    tokens = llama.generate(
        prompt,
        temp=float(sampling.get("temperature", 0.8)),
        top_p=float(sampling.get("top_p", 0.95)),
        presence_penalty=float(sampling.get("presence_penalty", 0.0)),
        frequency_penalty=float(sampling.get("frequency_penalty", 0.0)),
        logits_processor=LogitsProcessorList([recorder]),
        stopping_criteria=stopping_criteria,
        grammar=grammar,
    )
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    written: list[int] = []
    text = ""  # decoded, not yet released
    pending: list[tuple[int, int, LogprobEntry]] = []  # (start, end) in ``text``, entry
    finish = "length"
    try:
        for token in tokens:
            if cancelled():
                finish = "cancelled"
                break
            if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
                finish = "stop"
                break
            assert recorder.last is not None  # noqa: S101 - the processor ran for this step
            entry = _entry(llama, int(token), recorder.last, top_logprobs)
            piece = bytes(llama.detokenize([token], prev_tokens=prompt + written))
            written.append(int(token))
            start = len(text)
            text += decoder.decode(piece)
            pending.append((start, len(text), entry))
            cut = _stop_at(text, stop)
            if cut is not None:
                yield TokenPiece(text[:cut], [e for begin, _, e in pending if begin < cut])
                text, pending, finish = "", [], "stop"
                break
            release = len(text) - _held_back(text, stop)
            if release > 0:
                released = [e for _, end, e in pending if end <= release]
                pending = [
                    (b - release, end - release, e) for b, end, e in pending if end > release
                ]
                yield TokenPiece(text[:release], released)
                text = text[release:]
            if len(written) >= max_tokens:
                finish = "length"
                break
    finally:
        tokens.close()
    if finish != "stop" or text:
        text += decoder.decode(b"", final=True)  # a character cut short shows as U+FFFD
    if text or pending:
        yield TokenPiece(text, [entry for _, _, entry in pending])
    yield Finished(finish, len(written))


def _stop_at(text: str, stop: list[str]) -> int | None:
    """Where the first stop sequence in ``text`` begins, if any."""
    found = [index for sequence in stop if sequence and (index := text.find(sequence)) != -1]
    return min(found) if found else None


def _held_back(text: str, stop: list[str]) -> int:
    """How many trailing characters of ``text`` could begin a stop sequence."""
    longest = 0
    for sequence in stop:
        for size in range(min(len(sequence) - 1, len(text)), longest, -1):
            if text.endswith(sequence[:size]):
                longest = size
                break
    return longest
