#!/usr/bin/env python3
"""transformers' loss on ids with -100 labels (the reference for masked fine-tuning loss).

usage: masked_loss.py MODEL_DIR IDS_JSON LABELS_JSON → prints {"loss": …} from
       AutoModelForCausalLM(input_ids=ids, labels=labels) in float32 (labels shifted by the model).
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
ids = torch.tensor([json.loads(sys.argv[2])])
labels = torch.tensor([json.loads(sys.argv[3])])
with torch.no_grad():
    loss = model(input_ids=ids, labels=labels).loss
print(json.dumps({"loss": loss.item()}))
