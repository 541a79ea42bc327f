#!/usr/bin/env python3
"""Peer of Corpus Lab's `npm run bench:llama-train`: transformers (full training, or PEFT LoRA) on a
random-weight model of a real model's shape (Qwen2.5-0.5B by default), fp32, SDPA, AdamW, random
tokens; median ms per step after one untimed step. Prints one JSON line.
usage: PYTHON scripts/peers/hf_llama_train.py [--shape qwen2.5-0.5b|smollm2-135m|llama-3.2-1b] [--mode lora|full]
       [--batch 4] [--context 128] [--steps 4] [--threads 2]   (PYTHON: one with torch 2.x and transformers)"""
import argparse, json, os, statistics, time, resource
import torch
from transformers import AutoConfig, AutoModelForCausalLM, Qwen2Config, LlamaConfig
SHAPES = {
    "qwen2.5-0.5b": lambda: Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True),
    "smollm2-135m": lambda: LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rope_theta=100000, rms_norm_eps=1e-5, tie_word_embeddings=True),
    "llama-3.2-1b": lambda: LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
        num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072, rope_theta=500000, rms_norm_eps=1e-5, tie_word_embeddings=True),
}
ap = argparse.ArgumentParser()
ap.add_argument("--shape", default="qwen2.5-0.5b"); ap.add_argument("--mode", default="lora")
ap.add_argument("--batch", type=int, default=4); ap.add_argument("--context", type=int, default=128)
ap.add_argument("--steps", type=int, default=4); ap.add_argument("--threads", type=int, default=2); ap.add_argument("--rank", type=int, default=8)
a = ap.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(0)
cfg = SHAPES[a.shape](); cfg._attn_implementation = "sdpa"
model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.float32)
if a.mode == "lora":
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4)
model.train(); times = []
for s in range(a.steps + 1):
    x = torch.randint(cfg.vocab_size, (a.batch, a.context))
    t0 = time.perf_counter()
    out = model(input_ids=x, labels=x)
    out.loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    if s > 0: times.append(time.perf_counter() - t0)
ms = statistics.median(times) * 1000
print(json.dumps({"peer": "transformers+peft" if a.mode == "lora" else "transformers", "torch": torch.__version__, "shape": a.shape,
    "mode": a.mode, "ms_per_step": round(ms, 1), "tokens_per_s": round(a.batch * a.context / ms * 1000, 1),
    "trainable": sum(p.numel() for p in params), "params": sum(p.numel() for p in model.parameters()),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "threads": a.threads}))
