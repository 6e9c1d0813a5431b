"""Train the ``consequence`` backend's classifier from the project's corpus.

Usage::

    python -m reward_shaping.train_polarity            # retrain, write the shipped weights
    python -m reward_shaping.train_polarity --check    # retrain, compare with the shipped weights
    python -m reward_shaping.train_polarity --folds 5  # also report cross-validated accuracy

The corpus (``reward_shaping/data/consequences.yaml``) is expanded (templates
filled with a fixed seed), each sentence's ``[object]`` replaced by the
placeholder, embedded with the shipped all-MiniLM-L6-v2 (masked and as written),
and a multinomial logistic regression with an L2 penalty is fitted by L-BFGS in
float64.  The problem is convex and the procedure has no randomness, so
retraining reproduces the shipped weights up to float rounding.

Example:
    >>> from reward_shaping.train_polarity import expand_corpus
    >>> examples = expand_corpus()
    >>> len(examples) > 1000, sorted({e.kind for e in examples})
    (True, ['miss', 'pass', 'touch'])
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reward_shaping.consequence import (
    CORPUS_FILE,
    HEAD_FILE,
    KINDS,
    LABELS,
    PolarityHead,
    features,
    marked_views,
    sentence_vectors,
    softmax,
    unmark,
)

#: Fitting settings; part of what the shipped weights depend on.
L2 = 1e-3
MAX_ITER = 500
SEED = 0


class CorpusError(ValueError):
    """The corpus file is missing or malformed."""


@dataclass(frozen=True)
class Example:
    """One training sentence.

    Attributes:
        text: The sentence with its ``[object]`` marks.
        kind: Event asked about (``touch``, ``pass``, ``miss``).
        label: ``good``, ``bad`` or ``none``.
        group: Where it came from (``hand:N`` or ``template:N``): folds of the
            cross-validation never split a template's expansions.
    """

    text: str
    kind: str
    label: str
    group: str


def corpus_sha256(path: str | Path = CORPUS_FILE) -> str:
    """Hash of the corpus file together with the fitting settings."""
    blob = Path(path).read_bytes() + f"|L2={L2}|max_iter={MAX_ITER}|seed={SEED}".encode()
    return hashlib.sha256(blob).hexdigest()


def _load(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise CorpusError(f"cannot read the corpus {path}: {err}") from None
    if not isinstance(data, dict) or not set(KINDS) <= set(data):
        raise CorpusError(f"corpus {path} must have the sections {', '.join(KINDS)}")
    return data


def _checked(text, where: str) -> str:
    if not isinstance(text, str) or not re.search(r"\[[^\]]+\]", text):
        raise CorpusError(f"{where}: every sentence must mark its object in [brackets]: {text!r}")
    return text


def expand_corpus(path: str | Path = CORPUS_FILE) -> list[Example]:
    """Hand-written sentences and filled templates, without duplicates, in file order."""
    path = Path(path)
    data = _load(path)
    out: list[Example] = []
    n = 0
    for kind in KINDS:
        for label, sentences in data[kind].items():
            if label not in LABELS:
                raise CorpusError(f"{path}: {kind}.{label} is not one of {LABELS}")
            for s in sentences:
                out.append(Example(_checked(s, f"{path} {kind}.{label}"), kind, label, f"hand:{n}"))
                n += 1
    templates = data.get("templates") or {}
    slots = templates.get("slots", {})
    rng = random.Random(SEED)
    t = 0
    for kind in KINDS:
        for label, patterns in (templates.get(kind) or {}).items():
            if label not in LABELS:
                raise CorpusError(f"{path}: templates.{kind}.{label} is not one of {LABELS}")
            for pattern in patterns:
                names = re.findall(r"\{(\w+)\}", pattern)
                missing = [s for s in names if s not in slots]
                if missing:
                    raise CorpusError(f"{path}: template {pattern!r} uses unknown slots {missing}")
                for _ in range(int(templates.get("per_template", 4))):
                    filled = re.sub(r"\{(\w+)\}", lambda m: rng.choice(slots[m.group(1)]),
                                    pattern.replace("[X]", "[thing]"))
                    filled = filled[0].upper() + filled[1:]
                    out.append(Example(_checked(filled, f"{path} template"), kind, label,
                                       f"template:{t}"))
                t += 1
    seen, unique = set(), []
    for e in out:
        if (e.text, e.kind) not in seen:
            seen.add((e.text, e.kind))
            unique.append(e)
    return unique


def embed_examples(examples: list[Example]) -> np.ndarray:
    """The classifier's sentence input for every example (see :func:`sentence_vectors`)."""
    masked = [marked_views(e.text) for e in examples]
    return sentence_vectors([m for m, _ in masked], [unmark(e.text) for e in examples],
                            [sp for _, sp in masked])


def fit(X: np.ndarray, y: np.ndarray, l2: float = L2, max_iter: int = MAX_ITER
        ) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression with an L2 penalty, by L-BFGS in float64 from zero.

    Classes are weighted to equal total weight (the corpus has fewer gate
    sentences than contact sentences, and fewer of some labels).  The loss is
    convex, so the result is its unique minimum up to the stopping tolerance.
    """
    import torch

    n, d = X.shape
    k = len(LABELS)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    weight = torch.tensor((n / (k * np.maximum(counts, 1)))[y])
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    W = torch.zeros(d, k, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        ce = torch.nn.functional.cross_entropy(Xt @ W + b, yt, reduction="none")
        value = (ce * weight).mean() + 0.5 * l2 * (W * W).sum()
        value.backward()
        return value

    opt.step(loss)
    return W.detach().numpy().copy(), b.detach().numpy().copy()


def predict(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    return softmax(X @ W + b)


def cross_validate(X: np.ndarray, y: np.ndarray, groups: list[str], folds: int) -> float:
    """Accuracy with whole groups held out (a template's expansions stay together)."""
    keys = sorted(set(groups))
    fold_of = {g: i % folds for i, g in enumerate(keys)}
    f = np.array([fold_of[g] for g in groups])
    correct = 0
    for i in range(folds):
        W, b = fit(X[f != i], y[f != i])
        correct += int((predict(W, b, X[f == i]).argmax(axis=1) == y[f == i]).sum())
    return correct / len(y)


def save_head(path: Path, W: np.ndarray, b: np.ndarray, sha: str) -> None:
    """Write the weights atomically (float32 to keep the file small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, W=W.astype(np.float32), b=b.astype(np.float32),
                            corpus_sha256=np.array(sha), labels=np.array(LABELS))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; it is package data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def train(corpus: Path = CORPUS_FILE, folds: int = 0, log=print) -> tuple[np.ndarray, np.ndarray, str]:
    """Expand, embed and fit; returns ``(W, b, corpus_sha256)``."""
    examples = expand_corpus(corpus)
    counts = {(k, lab): sum(e.kind == k and e.label == lab for e in examples)
              for k in KINDS for lab in LABELS}
    log(f"corpus: {len(examples)} sentences "
        f"({sum(e.group.startswith('hand') for e in examples)} hand-written); "
        + ", ".join(f"{k}/{lab} {c}" for (k, lab), c in counts.items()))
    start = time.perf_counter()
    V = embed_examples(examples)
    log(f"embedded in {time.perf_counter() - start:.1f} s")
    X = features(V, [e.kind for e in examples])
    y = np.array([LABELS.index(e.label) for e in examples])
    start = time.perf_counter()
    W, b = fit(X, y)
    acc = float((predict(W, b, X).argmax(axis=1) == y).mean())
    log(f"fitted in {time.perf_counter() - start:.1f} s; training accuracy {acc:.3f}")
    if folds:
        cv = cross_validate(X, y, [e.group for e in examples], folds)
        log(f"{folds}-fold cross-validated accuracy (templates held out whole): {cv:.3f}")
    return W, b, corpus_sha256(corpus)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m reward_shaping.train_polarity",
        description="Train the consequence backend's polarity classifier on the project's corpus "
        "and write the shipped weights (deterministic: retraining reproduces them).")
    p.add_argument("--corpus", type=Path, default=CORPUS_FILE, help=f"corpus YAML (default {CORPUS_FILE})")
    p.add_argument("--out", type=Path, default=HEAD_FILE, help=f"weights file (default {HEAD_FILE})")
    p.add_argument("--check", action="store_true",
                   help="do not write: fail unless retraining reproduces the weights in --out")
    p.add_argument("--folds", type=int, default=0, help="also report K-fold cross-validation")
    args = p.parse_args(argv)
    if args.folds < 0 or args.folds == 1:
        p.error("--folds must be 0 (off) or at least 2")
    try:
        W, b, sha = train(args.corpus, args.folds)
    except CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        try:
            shipped = PolarityHead(args.out)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        # float32 storage and BLAS rounding differ between machines; the optimum does not.
        same = (shipped.corpus_sha256 == sha and np.allclose(shipped.W, W, atol=1e-3)
                and np.allclose(shipped.b, b, atol=1e-3))
        print("shipped weights reproduced" if same else
              f"shipped weights {args.out} differ from a retrain: run python -m reward_shaping.train_polarity")
        return 0 if same else 1
    save_head(args.out, W, b, sha)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
