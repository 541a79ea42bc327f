#!/usr/bin/env python3
"""Reference logits for a Corpus Lab checkpoint folder or a Hugging Face GPT-2 folder, computed in
PyTorch the way Hugging Face's GPT2LMHeadModel computes them (Conv1D weights [in, out], fused
c_attn split q|k|v, gelu_new, LayerNorm eps from config.json, lm_head or the tied embedding).
It reads model.safetensors with its own parser, so it also checks that our files follow the
safetensors spec. Bare names (openai-community/gpt2) and the attention-mask buffers are handled
as transformers does (the buffers are not weights).

With ADAPTER_DIR, a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) is applied
the way PEFT's unmerged LoRA layer does: conv1d(x) + scaling · (x @ Aᵀ) @ Bᵀ,
scaling = lora_alpha / r (lora_alpha / √r with use_rslora).

usage: gpt2_logits.py MODEL_DIR IDS_JSON [ADAPTER_DIR]  → prints {"logits": [[...], ...]} (one row per position),
       "attention": [layer][head][query][key] (the softmax weights), and "lens": [layer + 1][vocab], the logit
       lens: next-token probabilities of the last position read off the residual stream after the embeddings
       and after each block through the final LayerNorm
"""
import json
import math
import re
import sys

import torch
import torch.nn.functional as F

from safetensors_reader import read_safetensors as read_checked


MASK_BUFFER = re.compile(r"^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$")


def read_safetensors(path):
    return read_checked(path, skip=lambda name: MASK_BUFFER.match(name) is not None)


def main():
    folder, ids_json = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{folder}/config.json"))
    assert cfg["model_type"] == "gpt2" and cfg["activation_function"] == "gelu_new"
    raw = read_safetensors(f"{folder}/model.safetensors")
    # transformers' GPT2LMHeadModel accepts both spellings: with and without "transformer.".
    w = {k if k.startswith("transformer.") or k == "lm_head.weight" else f"transformer.{k}": v for k, v in raw.items()}
    head = w.get("lm_head.weight", w["transformer.wte.weight"])
    lora = {}
    scaling = 0.0
    if len(sys.argv) > 3:
        acfg = json.load(open(f"{sys.argv[3]}/adapter_config.json"))
        assert acfg["peft_type"] == "LORA"
        r = acfg.get("r", 8)
        scaling = acfg.get("lora_alpha", 8) / (math.sqrt(r) if acfg.get("use_rslora", False) else r)
        lora = read_safetensors(f"{sys.argv[3]}/adapter_model.safetensors")
    ids = torch.tensor(json.loads(ids_json), dtype=torch.long)
    n_embd, n_head, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = n_embd // n_head
    t = ids.shape[0]

    def ln(x, p):
        return F.layer_norm(x, (n_embd,), w[f"{p}.weight"], w[f"{p}.bias"], eps)

    def conv1d(x, p):
        y = x @ w[f"{p}.weight"] + w[f"{p}.bias"]
        a = lora.get(f"base_model.model.{p}.lora_A.weight")
        if a is not None:
            y = y + scaling * ((x @ a.T) @ lora[f"base_model.model.{p}.lora_B.weight"].T)
        return y

    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(t)]
    attention, hidden = [], [x]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}"
        q, k, v = conv1d(ln(x, f"{p}.ln_1"), f"{p}.attn.c_attn").split(n_embd, dim=-1)
        q, k, v = (z.view(t, n_head, hd).transpose(0, 1) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
        probs = F.softmax(scores, dim=-1)
        attention.append(probs.tolist())
        y = (probs @ v).transpose(0, 1).reshape(t, n_embd)
        x = x + conv1d(y, f"{p}.attn.c_proj")
        h = conv1d(ln(x, f"{p}.ln_2"), f"{p}.mlp.c_fc")
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        x = x + conv1d(h, f"{p}.mlp.c_proj")
        hidden.append(x)
    logits = ln(x, "transformer.ln_f") @ head.T
    lens = [F.softmax(ln(h[-1], "transformer.ln_f") @ head.T, dim=-1).tolist() for h in hidden]
    print(json.dumps({"logits": logits.tolist(), "attention": attention, "lens": lens}))


if __name__ == "__main__":
    main()
