"""Near-dedup benchmark: codemint's MinHash LSH vs a plain datasketch MinHashLSH.

Generates synthetic Python functions with planted near-duplicates (renamed variables,
swapped statements, added comments/blank lines/spacing, a changed constant or operator,
an inserted or deleted statement), runs both on the same shingles and threshold, and
prints precision/recall of the planted pairs (pairs of rows put in one cluster) and speed.

    .venv/bin/python benchmarks/dedup.py            # 20k functions
    .venv/bin/python benchmarks/dedup.py --n 5000 --workers 2
"""

from __future__ import annotations

import argparse
import random
import re
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from codemint.curation.minhash import MinHashParams, cluster, signatures_from_shingles, token_shingles
from codemint.curation.shards import map_parallel
from codemint.curation.tokens import code_tokens

WORDS = (  # noqa: SIM905 - word lists read better as text
    "alpha beta gamma delta count total value item index offset width height size limit score "
    "weight ratio level depth price amount rate speed name path key token node edge left right "
    "start stop step head tail first last buffer chunk block frame record entry"
).split()
VERBS = (  # noqa: SIM905 - word lists read better as text
    "compute parse merge scale clamp filter update render encode decode split check load build"
).split()
CALLS = (  # noqa: SIM905 - word lists read better as text
    "math.sqrt math.floor math.ceil math.log abs len int float str sorted sum min max round "
    "os.path.basename os.path.dirname hash"
).split()
METHODS = (  # noqa: SIM905 - word lists read better as text
    "get count index split strip append pop lower upper find copy"
).split()
EXCS = (  # noqa: SIM905 - word lists read better as text
    "ValueError KeyError TypeError IndexError ZeroDivisionError AttributeError"
).split()
OPS = ["+", "-", "*", "//", "%", "**"]
CMPS = ["<", ">", "<=", ">=", "==", "!="]
TEMPLATES = [
    "{new} = {a} {op} {c}",
    "{new} = {call}({a})",
    "if {a} {cmp} {c}:\n    {a} = {a} {op} {c2}",
    "for {i} in range({c}):\n    {a} = {a} {op} {i}",
    "{new} = [{i} {op} {c} for {i} in range({c2}) if {i} {cmp} {a}]",
    "{new} = {a}.{method}({c})",
    "while {a} {cmp} {c}:\n    {a} = {a} {op} {c2}",
    "try:\n    {new} = {a} {op} {c}\nexcept {exc}:\n    {new} = {c2}",
    '{new} = "{w1} {w2} {c}".{method}()',
    '{new} = {{"{w1}": {a}, "{w2}": {c}}}',
    'assert {a} {cmp} {c}, "{w1} {w2}"',
    "{new} = {call}({a}, {c}) if {a} {cmp} {c2} else {b}",
]


@dataclass
class Function:
    name: str
    n_params: int
    statements: list[str]  # format strings over {v0}, {v1}, ...
    result: str
    n_vars: int
    names: list[str] = field(default_factory=list)
    bound: list[int] = field(default_factory=list)  # slots holding a value so far

    def render(self, rng: random.Random | None = None, noisy: bool = False) -> str:
        names = {f"v{k}": n for k, n in enumerate(self.names)}
        lines = [f"def {self.name}({', '.join(self.names[: self.n_params])}):"]
        for stmt in [*self.statements, self.result]:
            text = stmt.format(**names)
            for line in text.split("\n"):
                if noisy and rng is not None and rng.random() < 0.25:
                    lines.append("    # " + " ".join(rng.sample(WORDS, 3)))
                if noisy and rng is not None and rng.random() < 0.15:
                    lines.append("")
                lines.append("    " + line)
        if noisy and rng is not None:
            lines = [re.sub(r" ([+*%-]) ", r"  \1  ", ln) if rng.random() < 0.3 else ln for ln in lines]
        return "\n".join(lines) + "\n"


def _statement(rng: random.Random, f: Function) -> str:
    template = rng.choice(TEMPLATES)
    new = f.n_vars
    text = template.format(
        new=f"{{v{new}}}",
        a=f"{{v{rng.choice(f.bound)}}}",
        b=f"{{v{rng.choice(f.bound)}}}",
        i=f"{{v{new + 1}}}",
        c=rng.randrange(1000),
        c2=rng.randrange(1000),
        op=rng.choice(OPS),
        cmp=rng.choice(CMPS),
        call=rng.choice(CALLS),
        method=rng.choice(METHODS),
        exc=rng.choice(EXCS),
        w1=rng.choice(WORDS),
        w2=rng.choice(WORDS),
    )
    # Escape the dict-literal braces the template produced, keep the {vN} placeholders.
    text = text.replace("{", "{{").replace("}", "}}")
    text = re.sub(r"\{\{(v\d+)\}\}", r"{\1}", text)
    f.n_vars += 2
    if "{new}" in template:
        f.bound.append(new)
    return text


def _names(rng: random.Random, n: int) -> list[str]:
    pool = [f"{a}_{b}" for a in WORDS for b in WORDS if a != b]
    return rng.sample(pool, n)


def random_function(rng: random.Random) -> Function:
    n_params = rng.randint(1, 4)
    name = f"{rng.choice(VERBS)}_{rng.choice(WORDS)}_{rng.randrange(100)}"
    f = Function(name, n_params, [], "", n_params, bound=list(range(n_params)))
    for _ in range(rng.randint(7, 13)):
        f.statements.append(_statement(rng, f))
    a, b = rng.choice(f.bound), rng.choice(f.bound)
    f.result = f"return {{v{a}}} {rng.choice(OPS)} {{v{b}}}"
    f.names = _names(rng, f.n_vars)
    return f


def variant(rng: random.Random, f: Function) -> str:
    """A planted near-duplicate: renamed/commented/respaced as a copy would be, plus one small
    edit (swap, constant, operator, insert or delete a statement) and maybe a second light one."""
    g = Function(f.name, f.n_params, list(f.statements), f.result, f.n_vars, list(f.names), list(f.bound))
    if rng.random() < 0.6:
        g.names = _names(rng, g.n_vars)
    if rng.random() < 0.3:
        g.name = f"{rng.choice(VERBS)}_{rng.choice(WORDS)}"
    edits = [rng.choice(["swap", "const", "op", "insert", "delete"])]
    if rng.random() < 0.3:
        edits.append(rng.choice(["const", "op"]))
    for edit in edits:
        k = rng.randrange(len(g.statements))
        if edit == "swap" and k + 1 < len(g.statements):
            g.statements[k], g.statements[k + 1] = g.statements[k + 1], g.statements[k]
        elif edit == "const":
            g.statements[k] = re.sub(r"\b\d+\b", str(rng.randrange(1000)), g.statements[k], count=1)
        elif edit == "op":
            g.statements[k] = re.sub(r" [+*%-] ", f" {rng.choice(OPS)} ", g.statements[k], count=1)
        elif edit == "insert":
            extra = _statement(rng, g)
            g.names += _names(rng, 2)
            g.statements.insert(k, extra)
        elif edit == "delete" and len(g.statements) > 6:
            del g.statements[k]
    return g.render(rng, noisy=rng.random() < 0.6)


def generate(n: int = 20_000, dup_fraction: float = 0.25, seed: int = 0) -> tuple[list[str], list[int]]:
    """`n` functions and a family id per function; a family of 2-4 is an original and its variants."""
    rng = random.Random(seed)
    codes: list[str] = []
    family: list[int] = []
    fam = 0
    while len(codes) < n:
        f = random_function(rng)
        copies = rng.randint(1, 3) if rng.random() < dup_fraction else 0
        for text in [f.render(), *(variant(rng, f) for _ in range(copies))][: n - len(codes)]:
            codes.append(text)
            family.append(fam)
        fam += 1
    order = rng.sample(range(len(codes)), len(codes))  # families not adjacent
    return [codes[i] for i in order], [family[i] for i in order]


def pairs_of(labels: list[int] | np.ndarray) -> set[tuple[int, int]]:
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(np.asarray(labels).tolist()):
        groups.setdefault(label, []).append(row)
    return {(a, b) for rows in groups.values() for i, a in enumerate(rows) for b in rows[i + 1 :]}


def precision_recall(labels: list[int] | np.ndarray, family: list[int]) -> tuple[float, float, int, int]:
    found, planted = pairs_of(labels), pairs_of(family)
    hit = len(found & planted)
    return hit / max(1, len(found)), hit / max(1, len(planted)), len(found), len(planted)


def tokenize_all(codes: list[str], params: MinHashParams) -> list[list[str]]:
    return [code_tokens(c, normalize_locals=params.normalize_locals) for c in codes]


def _shard_signatures(tokens: list[list[str]], params: MinHashParams) -> np.ndarray:
    return signatures_from_shingles([token_shingles(t, params.shingle) for t in tokens], params)


def run_codemint(tokens: list[list[str]], params: MinHashParams, workers: int = 1) -> np.ndarray:
    """Sketch in `workers` processes (the stage does it per shard), then LSH + verify + cluster."""
    n, w = len(tokens), max(1, workers)
    sigs = map_parallel(partial(_shard_signatures, params=params), [tokens[i::w] for i in range(w)], w)
    sig = np.empty((n, params.num_perm), dtype=np.uint32)
    sig[np.concatenate([np.arange(n)[i::w] for i in range(w)])] = np.concatenate(sigs)
    return cluster(sig, params, np.arange(n, dtype=np.int64)).labels


def run_datasketch(tokens: list[list[str]], params: MinHashParams) -> np.ndarray:
    """The plain way: one MinHash per document updated shingle by shingle, MinHashLSH query."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=params.threshold, num_perm=params.num_perm)
    sketches = []
    for i, toks in enumerate(tokens):
        m = MinHash(num_perm=params.num_perm, seed=params.seed)
        for k in range(max(1, len(toks) - params.shingle + 1)):
            m.update(" ".join(toks[k : k + params.shingle]).encode())
        lsh.insert(i, m)
        sketches.append(m)
    left, right = [], []
    for i, m in enumerate(sketches):
        for j in lsh.query(m):
            if j != i:
                left.append(i)
                right.append(j)
    n = len(tokens)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def evaluate(n: int, seed: int = 0, workers: int = 1, baseline: bool = True) -> list[dict[str, float | str]]:
    """Precision, recall and timings of codemint (and the datasketch baseline) on one corpus."""
    params = MinHashParams()
    codes, family = generate(n, seed=seed)
    started = time.perf_counter()
    tokens = tokenize_all(codes, params)
    tokenize_s = time.perf_counter() - started
    runs = [("codemint", lambda: run_codemint(tokens, params, workers))]
    if baseline:
        runs.append(("datasketch", lambda: run_datasketch(tokens, params)))
    out: list[dict[str, float | str]] = []
    for label, fn in runs:
        started = time.perf_counter()
        labels = fn()
        seconds = time.perf_counter() - started
        p, r, found, planted = precision_recall(labels, family)
        out.append(
            {
                "method": label,
                "precision": p,
                "recall": r,
                "pairs": found,
                "planted": planted,
                "seconds": seconds,
                "tokenize_seconds": tokenize_s,
                "n": len(codes),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="sketching processes for codemint")
    args = parser.parse_args()
    params = MinHashParams()
    rows = evaluate(args.n, args.seed, args.workers)
    n, planted, tok = rows[0]["n"], rows[0]["planted"], float(rows[0]["tokenize_seconds"])
    print(f"corpus: {n} synthetic functions, {planted} planted near-duplicate pairs (seed {args.seed})")
    print(f"params: {params.shingle}-token shingles, {params.num_perm} perms, threshold {params.threshold}")
    print(f"tokenization (shared, Python tokenize): {tok:.2f}s = {float(n) / tok:.0f} snippets/s")
    print(
        f"{'method':<12}{'precision':>10}{'recall':>9}{'pairs':>8}"
        f"{'sketch+LSH s':>14}{'snippets/s':>12}{'end-to-end/s':>14}"
    )
    for r in rows:
        s = float(r["seconds"])
        print(
            f"{r['method']!s:<12}{float(r['precision']):>10.4f}{float(r['recall']):>9.4f}{r['pairs']!s:>8}"
            f"{s:>14.2f}{float(n) / s:>12.0f}{float(n) / (s + tok):>14.0f}"
        )
    ours, base = float(rows[0]["seconds"]), float(rows[1]["seconds"])
    print(
        f"speed ratio (datasketch / codemint): sketch+LSH {base / ours:.1f}x, "
        f"end-to-end incl. tokenization {(base + tok) / (ours + tok):.1f}x"
    )


if __name__ == "__main__":
    main()
