#!/usr/bin/env python3
"""How transformers reads Llama-family config.json files, for test/unit/llama-config.test.ts.

For each folder given, prints one JSON line: the model transformers builds from its config.json (its
class, shape, the inverse frequencies of its rotary embedding, and the names and shapes of its weights,
built on the meta device so nothing is allocated).

usage: llama_config.py DIR...  (needs torch and transformers)
"""
import json
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def describe(folder):
    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    rotary = type(model.model.rotary_emb)(config)  # on the CPU: its inverse frequencies are real numbers
    attention = model.model.layers[0].self_attn
    return {
        "architecture": type(model).__name__,
        "vocab_size": config.vocab_size,
        "layers": config.num_hidden_layers,
        "heads": config.num_attention_heads,
        "width": config.hidden_size,
        "kv_heads": config.num_key_value_heads,
        "head_dim": attention.head_dim,
        "mlp_width": config.intermediate_size,
        "rms_norm_eps": config.rms_norm_eps,
        "tied": model.lm_head.weight is model.model.embed_tokens.weight,
        "rope_type": rotary.rope_type,
        "inv_freq": rotary.inv_freq.tolist(),
        "weights": {name: list(p.shape) for name, p in model.state_dict().items()},
    }


for folder in sys.argv[1:]:
    print(json.dumps(describe(folder)))
