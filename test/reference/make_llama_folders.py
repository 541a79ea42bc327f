#!/usr/bin/env python3
"""Hugging Face folders of the Llama family written by transformers itself, with random weights, and
what transformers computes on them, for test/unit/hf-llama-folders.test.ts.

No real weights can be downloaded here, so each folder is a tiny model (2 layers, width 64, 4 heads
over 2 key/value heads) saved with `save_pretrained` in one of the layouts real checkpoints use:

  llama    LlamaForCausalLM, Llama 3 rope scaling, its own lm_head, F32, one model.safetensors
  mistral  MistralForCausalLM, its own lm_head, F16
  qwen2    Qwen2ForCausalLM, q/k/v biases, head tied to the embedding, BF16, sharded
           (model.safetensors.index.json over several files)
  qwen3    Qwen3ForCausalLM, RMSNorm on each head's q and k, head_dim 32 (not 64 / 4), tied, BF16

Weights are N(0, 0.2) and norms 1 + N(0, 0.3), so that a mistake anywhere shows in the numbers.
Each folder gets the family's tokenizer.json from test/fixtures/tokenizers/ and a tokenizer_config.json,
and reference.json: the prompt's ids, for every position the log-probabilities of the 20 likeliest next
tokens and of the actual next one, and the mean loss, computed in float32 by transformers.

usage: make_llama_folders.py  (needs torch, transformers, tokenizers; writes test/fixtures/hf-llama/)
"""
import json
import os
import shutil

import torch
from tokenizers import Tokenizer
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZERS = os.path.join(ROOT, "test", "fixtures", "tokenizers")
OUT = os.path.join(ROOT, "test", "fixtures", "hf-llama")
PROMPT = "대한민국은 민주공화국이다. All men are created equal; 모든 국민은 법 앞에 평등하다 (Article 11)."
TOP = 20

SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=96)

FAMILIES = {
    "llama": dict(
        config=LlamaConfig,
        model=LlamaForCausalLM,
        tokenizer="llama3",
        specials=dict(bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>"),
        dtype=torch.float32,
        save=dict(),
        extra=dict(
            max_position_embeddings=256,
            bos_token_id=2000,
            eos_token_id=2001,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
            rope_scaling=dict(
                rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=32
            ),
            rope_theta=500000.0,
        ),
    ),
    "mistral": dict(
        config=MistralConfig,
        model=MistralForCausalLM,
        tokenizer="mistral",
        specials=dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>"),
        dtype=torch.float16,
        save=dict(),
        extra=dict(
            max_position_embeddings=512, sliding_window=512, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, rope_theta=1000000.0
        ),
    ),
    "qwen2": dict(
        config=Qwen2Config,
        model=Qwen2ForCausalLM,
        tokenizer="qwen2",
        specials=dict(eos_token="<|endoftext|>", pad_token="<|endoftext|>"),
        dtype=torch.bfloat16,
        save=dict(max_shard_size="100KB"),
        extra=dict(max_position_embeddings=32768, eos_token_id=2000, tie_word_embeddings=True, rope_theta=1000000.0),
    ),
    "qwen3": dict(
        config=Qwen3Config,
        model=Qwen3ForCausalLM,
        tokenizer="qwen2",
        specials=dict(eos_token="<|im_end|>", pad_token="<|endoftext|>"),
        dtype=torch.bfloat16,
        save=dict(),
        extra=dict(max_position_embeddings=40960, head_dim=32, eos_token_id=2002, tie_word_embeddings=True, rope_theta=1000000.0),
    ),
}


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.3 * noise if "norm" in name else 0.2 * noise)


def reference(model, ids):
    with torch.no_grad():
        x = torch.tensor([ids])
        out = model(x, labels=x)
        logprobs = torch.log_softmax(out.logits[0].double(), dim=-1)
    positions = []
    for t in range(len(ids)):
        top = torch.topk(logprobs[t], TOP)
        row = {"top_ids": top.indices.tolist(), "top_logprobs": [round(v, 7) for v in top.values.tolist()]}
        if t + 1 < len(ids):
            row["next_logprob"] = round(logprobs[t, ids[t + 1]].item(), 7)
        positions.append(row)
    return {"prompt": PROMPT, "ids": ids, "positions": positions, "loss": out.loss.item()}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for seed, (family, spec) in enumerate(FAMILIES.items(), start=1):
        folder = os.path.join(OUT, family)
        tokenizer_file = os.path.join(TOKENIZERS, spec["tokenizer"] + ".json")
        vocab = Tokenizer.from_file(tokenizer_file).get_vocab_size(with_added_tokens=True)
        config = spec["config"](vocab_size=vocab, **SHAPE, **spec["extra"])
        torch.manual_seed(seed)
        model = spec["model"](config)
        randomize(model, seed)
        model.to(spec["dtype"]).save_pretrained(folder, **spec["save"])
        fast = PreTrainedTokenizerFast(tokenizer_file=tokenizer_file, **spec["specials"])
        fast.save_pretrained(folder)
        shutil.copyfile(tokenizer_file, os.path.join(folder, "tokenizer.json"))

        loaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        loaded.eval()
        ids = Tokenizer.from_file(tokenizer_file).encode(PROMPT, add_special_tokens=False).ids
        with open(os.path.join(folder, "reference.json"), "w") as f:
            json.dump(reference(loaded, ids), f)
            f.write("\n")
        print(family, type(loaded).__name__, len(ids), "tokens", sorted(os.listdir(folder)))


if __name__ == "__main__":
    main()
