"""Embeddings from a local GGUF model, computed in-process by llama.cpp.

An embedding context is a second llama.cpp instance of the same file, opened with
``embedding=True`` and mean pooling (a chat context cannot pool), loaded on first use. Like
:class:`~assistant.providers.llama_engine.LlamaEngine` it is not thread-safe, so one lock
serialises its calls; the async methods run them in a worker thread so the event loop never
blocks. Vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.config import LocalModelSettings
from assistant.errors import InvalidRequestError, ProviderUnavailableError
from assistant.providers.llama_engine import bundled_model_path

logger = logging.getLogger(__name__)

_BATCH = 32
"""Texts embedded per llama.cpp call."""


class LocalEmbeddings(Embeddings):
    """LangChain embeddings over a local GGUF model (``local:<name>``)."""

    def __init__(self, name: str, settings: LocalModelSettings) -> None:
        self.name = name
        self.settings = settings
        self._llama: Any = None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def model_path(self) -> Path:
        """The GGUF file the vectors come from."""
        return self.settings.path or bundled_model_path()

    def _load(self) -> Any:
        if self._llama is None:
            import llama_cpp  # heavy import, only where the model is used

            path = self.model_path
            if not path.is_file():
                raise ProviderUnavailableError(
                    "local", f"model '{self.name}': GGUF file '{path}' not found"
                )
            logger.info("loading local embedding model %s from %s", self.name, path)
            # llama.cpp notes on stderr that the GGUF names no pooling type, even with
            # verbose=False; its log callback prints to sys.stderr, so that is muted here.
            with contextlib.redirect_stderr(io.StringIO()):
                self._llama = llama_cpp.Llama(
                    model_path=str(path),
                    embedding=True,
                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    n_ctx=self.settings.n_ctx,
                    n_batch=self.settings.n_ctx,
                    n_ubatch=self.settings.n_ctx,
                    n_threads=self.settings.n_threads or os.cpu_count() or 1,
                    verbose=False,
                )
            # Freed before interpreter teardown, when llama.cpp's bindings still exist.
            self._finalizer = weakref.finalize(self, self._llama.close)
        return self._llama

    def close(self) -> None:
        """Free the model (it loads again on next use)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._llama = None

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        with self._lock:
            llama = self._load()
            for start in range(0, len(texts), _BATCH):
                # Empty strings make llama.cpp fail; a space embeds as "no content".
                batch = [text if text.strip() else " " for text in texts[start : start + _BATCH]]
                vectors.extend(llama.embed(batch, normalize=True, truncate=True))
        return vectors

    def embed_inputs(self, inputs: list[str | list[int]]) -> tuple[list[list[float]], int]:
        """Vectors for texts or token arrays (in this model's vocabulary), and the tokens they
        took (blocking)."""
        with self._lock:
            llama = self._load()
            vocabulary = int(llama.n_vocab())
            for index, item in enumerate(inputs):
                if isinstance(item, list) and any(not 0 <= t < vocabulary for t in item):
                    raise InvalidRequestError(
                        f"input {index} has a token id outside this model's vocabulary "
                        f"(0 to {vocabulary - 1})",
                        param="input",
                    )
            texts = [
                item
                if isinstance(item, str)
                else bytes(llama.detokenize(item)).decode("utf-8", errors="replace")
                for item in inputs
            ]
            tokens = sum(
                len(item) if isinstance(item, list) else len(llama.tokenize(item.encode(), False))
                for item in inputs
            )
        return self._embed(texts), tokens

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One normalised vector per text."""
        return self._embed(list(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """The normalised vector of one text."""
        return self._embed([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents` in a worker thread."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` in a worker thread."""
        return await asyncio.to_thread(self.embed_query, text)
