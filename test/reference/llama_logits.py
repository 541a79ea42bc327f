#!/usr/bin/env python3
"""Reference log-probabilities for a Llama-family folder (LlamaForCausalLM, MistralForCausalLM,
Qwen2ForCausalLM, Qwen3ForCausalLM): transformers' own model where transformers is installed, else
a PyTorch reading written from transformers' modeling code (RMSNorm, rotate-half RoPE with Llama 3
scaling, grouped-query attention by repeat_kv, SwiGLU, Qwen2's q/k/v biases, Qwen3's q/k norms, tied
or own head) on weights read with its own safetensors parser (F32, BF16, F16; one file or shards).

usage: llama_logits.py MODEL_DIR IDS_JSON → prints {"reader": "transformers" | "pytorch",
       "logprobs": [[...], ...]} (one row per position, float32 computation)
"""
import json
import math
import os
import sys

import torch

from safetensors_reader import read_safetensors


def read_weights(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_safetensors(os.path.join(folder, "model.safetensors"))
    out = {}
    for shard in sorted(set(json.load(open(index))["weight_map"].values())):
        out.update(read_safetensors(os.path.join(folder, shard)))
    return out


def inverse_frequencies(cfg, head_dim):
    rope = cfg.get("rope_parameters") or {}
    scaling = cfg.get("rope_scaling") or rope
    theta = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if scaling.get("rope_type", scaling.get("type", "default")) != "llama3":
        return inv
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    llama = torch.where(wavelen > old / low, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * llama / factor + smooth * llama
    medium = ~(wavelen < old / high) * ~(wavelen > old / low)
    return torch.where(medium, smoothed, llama)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def pytorch_logprobs(folder, ids):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = read_weights(folder)
    width, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    hd = cfg.get("head_dim") or width // heads
    eps = cfg.get("rms_norm_eps", 1e-6)
    t = len(ids)
    inv = inverse_frequencies(cfg, hd)
    freqs = torch.arange(t).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    mask = torch.full((t, t), float("-inf")).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name, n):
            y = h @ w[p + f"self_attn.{name}_proj.weight"].T
            if p + f"self_attn.{name}_proj.bias" in w:
                y = y + w[p + f"self_attn.{name}_proj.bias"]
            return y.view(t, n, hd).transpose(0, 1)

        q, k, v = proj("q", heads), proj("k", kv), proj("v", kv)
        if p + "self_attn.q_norm.weight" in w:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(heads // kv, 0), v.repeat_interleave(heads // kv, 0)
        probs = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, -1)
        x = x + (probs @ v).transpose(0, 1).reshape(t, heads * hd) @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return torch.log_softmax(x @ head.T, -1)


def main():
    folder, ids = sys.argv[1], json.loads(sys.argv[2])
    try:
        from transformers import AutoModelForCausalLM
    except ImportError:
        AutoModelForCausalLM = None
    with torch.no_grad():
        if AutoModelForCausalLM is not None:
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
            out = {"reader": "transformers", "class": type(model).__name__}
            out["logprobs"] = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1).tolist()
        else:
            out = {"reader": "pytorch", "logprobs": pytorch_logprobs(folder, ids).tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
