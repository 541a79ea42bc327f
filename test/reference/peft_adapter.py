#!/usr/bin/env python3
"""The real PEFT (huggingface/peft) on a Hugging Face GPT-2 folder, for test/unit/peft-adapter.test.ts.

usage: peft_adapter.py make BASE_DIR ADAPTER_DIR IDS_JSON LORA_CONFIG_JSON
           PEFT makes a LoRA adapter (LoraConfig(**LORA_CONFIG_JSON), random A and B) on BASE_DIR
           and saves it to ADAPTER_DIR with save_pretrained (base_model_name_or_path = BASE_DIR);
       peft_adapter.py load BASE_DIR ADAPTER_DIR IDS_JSON
           PEFT loads ADAPTER_DIR onto BASE_DIR (PeftModel.from_pretrained);
either way prints {"logits": [[...], ...]}, one row per position of IDS_JSON, unmerged as PEFT runs it.
"""
import json
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import GPT2LMHeadModel


def main():
    mode, base_dir, adapter_dir, ids_json = sys.argv[1:5]
    base = GPT2LMHeadModel.from_pretrained(base_dir)
    if mode == "make":
        torch.manual_seed(0)
        model = get_peft_model(base, LoraConfig(init_lora_weights=False, **json.loads(sys.argv[5])))
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_" in name:
                    p.mul_(3)  # PEFT's random init is small: make the adapter matter
        model.save_pretrained(adapter_dir)
    else:
        model = PeftModel.from_pretrained(base, adapter_dir)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([json.loads(ids_json)])).logits[0]
    print(json.dumps({"logits": logits.tolist()}))


main()
