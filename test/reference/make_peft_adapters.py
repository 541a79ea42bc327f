#!/usr/bin/env python3
"""LoRA adapters made by PEFT itself on the Llama-family fixtures (test/fixtures/hf-llama/*), and what
PEFT computes with them, for test/unit/peft-llama.test.ts.

Each adapter is get_peft_model(base, LoraConfig(...)) with random A and B (init_lora_weights=False,
so the adapter matters; larger ones make float32 itself differ from float64 by more than 1e-4), saved with save_pretrained into test/fixtures/peft-llama/<family>/;
base_model_name_or_path is the base's path relative to the repository. reference.json holds, on the
base's reference ids:
  adapter   PeftModel.from_pretrained(base in float32, adapter): per position the log-probabilities of
            the 10 likeliest next tokens and of the actual next one;
  merged    the same of merge_and_unload() on the base in its own dtype (BF16 stays BF16), run in
            float32; its projection weights are in peft_merged.safetensors (in that dtype).

usage: make_peft_adapters.py  (needs torch, transformers, peft; run from anywhere)
"""
import json
import os

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASES = os.path.join(ROOT, "test", "fixtures", "hf-llama")
OUT = os.path.join(ROOT, "test", "fixtures", "peft-llama")
TOP = 10

ADAPTERS = {
    "llama": dict(r=4, lora_alpha=8, use_rslora=True, target_modules="all-linear"),
    "mistral": dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]),
    "qwen2": dict(
        r=4,
        lora_alpha=16,
        lora_dropout=0.05,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    ),
    "qwen3": dict(r=3, lora_alpha=6, target_modules=["o_proj", "down_proj"], layers_to_transform=[1], layers_pattern="layers"),
}


def log_probs(model, ids):
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    top = torch.topk(lp, TOP, dim=-1)
    return {
        "top_ids": top.indices.tolist(),
        "top_logprobs": top.values.tolist(),
        "next_logprobs": [lp[i, ids[i + 1]].item() for i in range(len(ids) - 1)],
    }


def main():
    for family, lora in ADAPTERS.items():
        base_dir = os.path.join(BASES, family)
        out = os.path.join(OUT, family)
        ids = json.load(open(os.path.join(base_dir, "reference.json")))["ids"]
        torch.manual_seed(0)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32),
            LoraConfig(init_lora_weights=False, task_type="CAUSAL_LM", **lora),
        )
        model.save_pretrained(out)
        config_path = os.path.join(out, "adapter_config.json")
        config = json.load(open(config_path))
        config["base_model_name_or_path"] = os.path.relpath(base_dir, ROOT)
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
        os.remove(os.path.join(out, "README.md"))

        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32), out).eval()
        native = AutoModelForCausalLM.from_pretrained(base_dir)
        merged = PeftModel.from_pretrained(native, out).merge_and_unload().eval()
        save_file(
            {k: v.contiguous() for k, v in merged.state_dict().items() if k.endswith("_proj.weight")},
            os.path.join(out, "peft_merged.safetensors"),
        )
        reference = {
            "ids": ids,
            "dtype": str(native.dtype).removeprefix("torch."),
            "adapter": log_probs(adapted, ids),
            "merged": log_probs(merged.float(), ids),
        }
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump(reference, f)
        print(family, "written")


main()
