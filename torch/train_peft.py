#!/usr/bin/env python3
"""Continues a Corpus Lab LoRA fine-tune with transformers + PEFT, on one GPU, several, or several machines.

This file is copied into every folder `corpus-lab export-torch` writes for a LoRA run, next to
plan.json, base.json (which base model the adapter belongs to, with its sha256), the adapter so
far (checkpoints/<name>/: PEFT's adapter_model.safetensors + adapter_config.json, AdamW's moments,
trainer_state.json), the prepared data and train.py (whose helpers it shares). It trains the
adapter as Corpus Lab does: the same data order (seeded shuffles per epoch), loss on the trained
tokens only (-100 labels), AdamW with decay on the adapter matrices, warm-up + cosine schedule,
gradient clipping, evaluation on the same held-out data, and writes checkpoints in Corpus Lab's
LoRA format (a PEFT adapter folder plus the optimizer and trainer state), so RUN_DIR opens in
Corpus Lab, and `corpus-lab finetune --lora` or `train --resume` continues it on the laptop.

usage (see README.md next to this file):
  torchrun --nproc_per_node N train_peft.py [--base DIR] [--max-steps N] [--epochs N]
      [--out RUN_DIR] [--device cuda|cpu] [--batch N_PER_RANK]
  python3 train_peft.py …   (one process, no torchrun)

Needs PyTorch 2, transformers, peft, safetensors and NumPy.
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.distributed as dist

from train import (
    IGNORED,
    Examples,
    Tokens,
    eval_event,
    make_sampler,
    next_token_loss,
    sample_or_none,
    add_run_options,
    launch,
    parse_run_options,
    ADAPTER_CHECKPOINT_FILES,
    HERE,
    UserError,
    encode_safetensors,
    learning_rate_at,
    list_checkpoints,
    open_run,
    prune_checkpoints,
    read_json,
    read_safetensors,
    remake_plan,
    remove_stale_temps,
    rows_of_rank,
    sha256_of,
    to_json,
    training_window,
    update_run,
    write_dir_atomic,
)

# ---------------------------------------------------------------------------------------------
# The export, the base model and the adapter


def verify_export():
    plan = read_json(os.path.join(HERE, "plan.json"))
    if plan.get("format") != "corpus-lab-peft-export" or plan.get("format_version") != 1:
        raise UserError(f"{HERE}/plan.json is not a Corpus Lab LoRA export (format_version 1)")
    for rel, digest in plan["files"].items():
        path = os.path.join(HERE, rel)
        if not os.path.isfile(path):
            raise UserError(f"{path} is missing: copy the whole exported folder")
        if sha256_of(path) != digest:
            raise UserError(f"{path} is damaged or half-copied (its sha256 differs from plan.json's): copy it again")
    return plan


def base_folder(given, record, check):
    """The base model's folder: --base, else base/ in this folder, else where it was on the laptop; its weights' sha256 checked (once per machine)."""
    candidates = [given] if given else [os.path.join(HERE, "base"), record["path"]]
    for folder in candidates:
        if os.path.isdir(folder):
            break
    else:
        raise UserError(
            f"the base model is not here ({record['path']} does not exist): copy it to this machine and pass --base DIR "
            f"(or export again with --with-base)"
        )
    weights = os.path.join(folder, record["weights_file"])
    if not os.path.isfile(weights):
        raise UserError(f"{folder} has no {record['weights_file']}, so it is not the base model this adapter was trained on")
    if check and sha256_of(weights) != record["sha256"]:
        raise UserError(f"{weights} is not the base model this adapter was trained on (its sha256 differs from base.json's)")
    return folder


def load_model(base_dir, adapter_dir, base_dtype):
    try:
        import transformers
        from peft import PeftModel
    except ImportError as e:
        raise UserError(f"{e.name} is not installed: python3 -m pip install torch transformers peft safetensors numpy")

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        base = transformers.AutoModelForCausalLM.from_pretrained(base_dir, **{dtype_key: getattr(torch, base_dtype)})
        base.config.use_cache = False
        model = PeftModel.from_pretrained(base, adapter_dir, is_trainable=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"transformers + PEFT cannot load the base {base_dir} with the adapter {adapter_dir}: {first}")
    # The adapter trains in float32 whatever the base's dtype (its AdamW moments are float32).
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return model


def corpus_lab_name(peft_name):
    """PEFT's parameter name (base_model.model.<module>.lora_A.default.weight) as Corpus Lab's (<module>.lora_A.weight)."""
    return peft_name[len("base_model.model.") :].replace(".default.weight", ".weight")


def trainable(model):
    return [(corpus_lab_name(n), p) for n, p in model.named_parameters() if p.requires_grad]


def read_state(path):
    """trainer_state.json of a complete LoRA checkpoint."""
    for f in ADAPTER_CHECKPOINT_FILES:
        if not os.path.isfile(os.path.join(path, f)):
            raise UserError(f"{path} is not a complete LoRA checkpoint: {f} is missing")
    state = read_json(os.path.join(path, "trainer_state.json"))
    for key in ("step", "epoch", "cursor", "seed"):
        if not isinstance(state.get(key), int) or state[key] < 0:
            raise UserError(f"{path}/trainer_state.json: {key} must be a whole number ≥ 0")
    return state


def read_moments(path, params):
    """AdamW's moments of the adapter matrices (m.<module>.lora_A.weight …), checked against the model's."""
    saved = read_safetensors(os.path.join(path, "optimizer.safetensors"))
    moments = {}
    for name, p in params:
        for key in ("m", "v"):
            t = saved.get(f"{key}.{name}")
            if t is None or tuple(t.shape) != tuple(p.shape):
                raise UserError(f"{path}/optimizer.safetensors has no {key}.{name} of shape {list(p.shape)}")
            moments[f"{key}.{name}"] = t
    return moments


def write_adapter_checkpoint(out, name, params, optimizer, exported_dir, trainer_state):
    """A Corpus Lab LoRA checkpoint (src/core/adapter-checkpoint.ts): PEFT's adapter files, the base record, moments, state."""
    adapter = {f"base_model.model.{n}": p.detach().float().cpu() for n, p in params}
    moments = {}
    for n, p in params:
        moments[f"m.{n}"] = optimizer.state[p]["exp_avg"].cpu()
        moments[f"v.{n}"] = optimizer.state[p]["exp_avg_sq"].cpu()
    parent = os.path.join(out, "checkpoints")
    os.makedirs(parent, exist_ok=True)
    remove_stale_temps(parent)
    kept = {}
    for f in ("adapter_config.json", "adapter_base.json"):
        with open(os.path.join(exported_dir, f), "rb") as fh:
            kept[f] = fh.read()
    with open(os.path.join(out, "tokenizer.json"), "rb") as fh:
        kept["tokenizer.json"] = fh.read()
    write_dir_atomic(os.path.join(parent, name), {
        "adapter_model.safetensors": encode_safetensors(adapter, {"format": "pt"}),
        **kept,
        "optimizer.safetensors": encode_safetensors(moments, {"format": "corpus-lab-adamw"}),
        "trainer_state.json": to_json(trainer_state, indent=2) + "\n",
    })


# ---------------------------------------------------------------------------------------------
# Training


def parse_args(argv):
    p = argparse.ArgumentParser(description="Continue a Corpus Lab LoRA fine-tune with transformers + PEFT (under torchrun for several GPUs).")
    p.add_argument("--base", help="the base model folder (default: base/ here, else the path in base.json)")
    p.add_argument("--base-dtype", choices=["float32", "bfloat16"], default="float32", help="the frozen base's dtype (default float32, as Corpus Lab computes; bfloat16 halves its memory)")
    add_run_options(p, "rows")
    return parse_run_options(p, argv)


def cross_entropy_sum(model, x, y):
    return next_token_loss(model(input_ids=x).logits.float(), y, "sum")


def main(argv):
    launch(parse_args(argv), verify_export, train)


def train(args, export, world, rank, device, device_kind):
    lead = rank == 0
    base_dir = base_folder(args.base, read_json(os.path.join(HERE, "base.json")), check=os.environ.get("LOCAL_RANK", "0") == "0")
    saved_plan = export["plan"]
    out = os.path.abspath(args.out or os.path.join(HERE, "run"))
    exported_dir = start_dir = os.path.join(HERE, export["start"]["checkpoint"])
    if os.path.exists(os.path.join(out, "run.json")):
        existing = list_checkpoints(out)
        if not existing:
            raise UserError(f"{out} holds a run without a complete checkpoint: pass a new --out")
        start_dir = existing[-1]
    elif os.path.isdir(out) and os.listdir(out):
        raise UserError(f"{out} is not empty and not a run: pass a new --out")
    state = read_state(start_dir)
    plan = remake_plan(state.get("plan") or saved_plan, args.max_steps, args.epochs)
    if plan["trainTokens"] != saved_plan["trainTokens"] or plan.get("examples") != saved_plan.get("examples"):
        raise UserError(f"{start_dir} was trained on different data than this export")
    if plan["totalSteps"] <= state["step"]:
        raise UserError(f"the run is already at step {state['step']} of {plan['totalSteps']}: pass a larger --max-steps or --epochs")
    opts = plan["options"]
    batch = opts["batch"]
    if world > batch:
        raise UserError(f"{world} processes for a global batch of {batch} rows: use at most {batch}")
    model = load_model(base_dir, start_dir, args.base_dtype).to(device)
    params = trainable(model)
    moments = read_moments(start_dir, params)
    first, last = rows_of_rank(batch, world, rank)
    per_pass = args.batch or (last - first)
    data = export["data"]
    source = Examples(data, plan) if data["kind"] == "examples" else Tokens(data, plan, training_window(plan))

    # Corpus Lab decays every adapter matrix (src/worker/model/gpt.ts); PyTorch's AdamW is the same update.
    optimizer = torch.optim.AdamW([p for _, p in params], lr=opts["lr"], betas=(opts["beta1"], opts["beta2"]), eps=1e-8, weight_decay=opts["weightDecay"])
    for name, p in params:
        optimizer.state[p] = {
            "step": torch.tensor(float(state["step"])),
            "exp_avg": moments[f"m.{name}"].to(device),
            "exp_avg_sq": moments[f"v.{name}"].to(device),
        }
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device_kind == "cuda" else None) if world > 1 else model

    step, epoch, cursor = state["step"], state["epoch"], state["cursor"]
    best_val = state.get("best_val_loss")
    best_val = math.inf if best_val is None else best_val
    best_name = state.get("best_checkpoint") or ""
    elapsed_before = state.get("elapsed_s") or 0.0
    started = time.time()
    elapsed = lambda: elapsed_before + time.time() - started
    metrics_path = os.path.join(out, "metrics.jsonl")
    sampler, no_sample = make_sampler(export, plan) if lead else (None, None)

    def emit(event):
        if lead:
            print(to_json(event), flush=True)

    def log(event):
        if lead:
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.write(to_json(event) + "\n")
        emit(event)

    if lead:
        open_run(out, export, plan, step, device_kind, world)
    emit({"type": "start", "run_dir": out, "step": step, "epoch": epoch + 1, "resumed_from": start_dir, "base": base_dir, "world_size": world, "device": device_kind, "per_rank_batch": per_pass})
    if no_sample:
        emit({"type": "notice", "step": step, "message": no_sample})

    last_loss, last_val, last_eval_step = state.get("loss", math.nan), math.nan, -1
    tokens_per_s = 0.0
    order = source.order(epoch)

    def evaluate():
        nonlocal last_val, last_eval_step
        if lead:
            model.eval()
            total, count = 0.0, 0
            with torch.no_grad():
                for group in source.eval_groups(per_pass):
                    x, y = source.rows("val", group)
                    total += cross_entropy_sum(model, x.to(device), y.to(device)).item()
                    count += int((y != IGNORED).sum())
                base_total, base_count = 0.0, 0
                for group in source.eval_groups(per_pass, "base_val"):
                    x, y = source.rows("base_val", group)
                    base_total += cross_entropy_sum(model, x.to(device), y.to(device)).item()
                    base_count += y.numel()
                sample = sample_or_none(sampler, lambda ids: model(input_ids=torch.tensor([ids], device=device)).logits[0, -1], step)
            model.train()
            last_val = total / count
            base_val = base_total / base_count if base_count else None
            log(eval_event(step, epoch + 1, last_loss, last_val, base_val, export["eval"], elapsed(), sample))
        if world > 1:
            shared = torch.tensor([last_val], dtype=torch.float64, device=device)
            dist.broadcast(shared, 0)
            last_val = shared.item()
        last_eval_step = step

    def checkpoint(name, reason, epoch_for_event):
        nonlocal best_val, best_name
        if math.isnan(last_val) or last_eval_step != step:
            evaluate()
        if last_val < best_val:
            best_val, best_name = last_val, name
        if lead:
            write_adapter_checkpoint(out, name, params, optimizer, exported_dir, {
                "step": step,
                "epoch": epoch,
                "cursor": cursor,
                "seed": opts["seed"],
                "best_val_loss": best_val if math.isfinite(best_val) else None,
                "best_checkpoint": best_name,
                "rng": {"kind": "counter", "seed": opts["seed"], "step": step, "epoch": epoch},
                "elapsed_s": elapsed(),
                "loss": last_loss,
                "val_loss": last_val,
                "plan": plan,
            })
            prune_checkpoints(out, opts["keepCheckpoints"], [best_name] if best_name else [])
            update_run(out, last_checkpoint=os.path.join(out, "checkpoints", name), step=step, val_loss=last_val)
        emit({"type": "checkpoint", "step": step, "epoch": epoch_for_event, "path": os.path.join(out, "checkpoints", name), "val_loss": last_val, "reason": reason})
        if world > 1:
            dist.barrier()

    model.train()
    while step < plan["totalSteps"]:
        t0 = time.time()
        n = len(order)
        picks = [int(order[(cursor * batch + b) % n]) for b in range(batch)]
        # Every rank builds the whole batch's rows: its padding width and trained-token count are the batch's.
        x_all, y_all = source.replayed(*source.rows("train", picks), step)
        trained = int((y_all != IGNORED).sum())
        lr = learning_rate_at(plan, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        local_loss = torch.zeros((), device=device, dtype=torch.float64)
        passes = [(i, min(i + per_pass, last)) for i in range(first, last, per_pass)]
        for k, (a, b) in enumerate(passes):
            x, y = x_all[a:b].to(device), y_all[a:b].to(device)
            # The loss is the batch's mean over its trained tokens; × world because DDP averages the ranks' gradients.
            sync = k == len(passes) - 1 or world == 1
            if sync:
                loss = cross_entropy_sum(net, x, y) * (world / max(1, trained))
                loss.backward()
            else:
                with net.no_sync():
                    loss = cross_entropy_sum(net, x, y) * (world / max(1, trained))
                    loss.backward()
            local_loss += loss.detach().double() / world
        if world > 1:
            dist.all_reduce(local_loss)
        grad_norm = torch.nn.utils.clip_grad_norm_([p for _, p in params], opts["gradClip"])
        loss_value, norm_value = local_loss.item(), float(grad_norm)
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
            raise UserError(
                f"training diverged at step {step + 1} (learning rate {lr:.3g}): the loss is {loss_value} and the gradient norm {norm_value}; "
                f"the last good checkpoint is kept — lower the learning rate"
            )
        optimizer.step()
        if device_kind == "cuda":
            torch.cuda.synchronize()
        rate = x_all.numel() / max(time.time() - t0, 1e-9)
        tokens_per_s = rate if tokens_per_s == 0 else 0.9 * tokens_per_s + 0.1 * rate
        last_loss = loss_value
        step_epoch = epoch + 1
        step += 1
        cursor += 1
        log({"type": "step", "step": step, "epoch": step_epoch, "loss": loss_value, "lr": lr, "grad_norm": norm_value, "tokens_per_s": tokens_per_s, "elapsed_s": elapsed()})
        epoch_done = cursor >= plan["stepsPerEpoch"]
        if epoch_done:
            epoch += 1
            cursor = 0
            order = source.order(epoch)
        if step % plan["evalEvery"] == 0 or step == plan["totalSteps"]:
            evaluate()
        if epoch_done:
            checkpoint(f"epoch-{step_epoch:04d}", "epoch", step_epoch)
        elif step == plan["totalSteps"]:
            checkpoint(f"step-{step:08d}", "final", step_epoch)
    if lead:
        update_run(out, status="completed", trainer=None)
    emit({"type": "done", "step": step, "epoch": epoch + (1 if cursor > 0 else 0), "loss": last_loss, "val_loss": last_val, "elapsed_s": elapsed(), "reason": "completed"})


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except UserError as e:
        print(f"train_peft.py: {e}", file=sys.stderr)
        sys.exit(2)
