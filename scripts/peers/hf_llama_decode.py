"""Peer of Corpus Lab's `npm run bench:decode-llama`: transformers' LlamaForCausalLM at
SmolLM2-135M's shape (random weights, fp32, SDPA), a 256-token prompt then 16 greedy tokens with
the KV cache; p50 ms per token and peak RSS.
usage: PYTHON scripts/peers/hf_llama_decode.py [THREADS=2]  (PYTHON: one with torch 2.x and transformers)"""
import resource
import statistics
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                  num_key_value_heads=3, head_dim=64, max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
                  tie_word_embeddings=True, attn_implementation="sdpa")
torch.manual_seed(0)
model = LlamaForCausalLM(cfg).eval()
ids = torch.tensor([[(i * 7919 + 13) % 49152 for i in range(256)]])
with torch.inference_mode():
    t0 = time.perf_counter()
    out = model(ids, use_cache=True)
    prefill = time.perf_counter() - t0
    past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
    times = []
    for _ in range(16):
        t0 = time.perf_counter()
        out = model(nxt, past_key_values=past, use_cache=True)
        past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        times.append((time.perf_counter() - t0) * 1000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"transformers, torch {torch.__version__}, {torch.get_num_threads()} threads: prompt {prefill * 1000:.0f} ms, "
      f"p50 {statistics.median(times):.1f} ms/token, peak RSS {peak:.0f} MB")
