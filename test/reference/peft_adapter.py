#!/usr/bin/env python3
"""The real PEFT (huggingface/peft) on a Hugging Face folder (GPT-2, Llama, Mistral, Qwen2, Qwen3),
for test/unit/peft-adapter.test.ts and test/unit/peft-llama.test.ts. Models run in float32 whatever
the folder's dtype.

usage: peft_adapter.py make BASE_DIR ADAPTER_DIR IDS_JSON LORA_CONFIG_JSON
           PEFT makes a LoRA adapter (LoraConfig(**LORA_CONFIG_JSON), random A and B) on BASE_DIR
           and saves it to ADAPTER_DIR with save_pretrained (base_model_name_or_path = BASE_DIR);
       peft_adapter.py load BASE_DIR ADAPTER_DIR IDS_JSON
           PEFT loads ADAPTER_DIR onto BASE_DIR (PeftModel.from_pretrained);
       peft_adapter.py merge BASE_DIR ADAPTER_DIR IDS_JSON
           as load, then merge_and_unload;
       peft_adapter.py plain MODEL_DIR - IDS_JSON
           transformers alone loads MODEL_DIR (a merged folder);
each prints {"logits": [[...], ...]}, one row per position of IDS_JSON.
"""
import json
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM


def main():
    mode, base_dir, adapter_dir, ids_json = sys.argv[1:5]
    model = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    if mode == "make":
        torch.manual_seed(0)
        model = get_peft_model(model, LoraConfig(init_lora_weights=False, **json.loads(sys.argv[5])))
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_" in name:
                    p.mul_(3)  # PEFT's random init is small: make the adapter matter
        model.save_pretrained(adapter_dir)
    elif mode in ("load", "merge"):
        model = PeftModel.from_pretrained(model, adapter_dir)
        if mode == "merge":
            model = model.merge_and_unload()
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([json.loads(ids_json)])).logits[0]
    print(json.dumps({"logits": logits.tolist()}))


main()
