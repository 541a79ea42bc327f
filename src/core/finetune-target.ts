import { UserError } from './errors';
import { resolveCheckpoint } from './checkpoint';
import { defaultLoraTargets } from './finetune';
import { refuseDytExport } from './hf-export';
import { LoraAdapter, LoraSettings, MAX_LORA_ALPHA, matchTargets, readAdapter } from './lora-adapter';
import { ModelFiles, readModelFolder } from './model-folder';

/** What `finetune BASE … [--lora …]` asks for of the model (the CLI's flags, the extension's choice). */
export interface FinetuneTargetRequest {
  /** A Corpus Lab run or checkpoint, a Hugging Face folder, an int8 or merged folder, or a LoRA adapter. */
  basePath: string;
  /** When basePath is a LoRA adapter that does not record its base: that base's folder (readModelFolder). */
  base?: string;
  lora?: boolean;
  rank?: number;
  alpha?: number;
  rslora?: boolean;
  loraDropout?: number;
  targets?: string[];
}

/** What a fine-tune trains: every weight of the base, or with --lora the adapters and their settings. */
export interface FinetuneTarget {
  /** The model trained on (a LoRA adapter's own base when it is continued). */
  base: ModelFiles;
  lora?: LoraSettings;
  /** The modules the adapters sit on. */
  modules: string[];
  /** A LoRA adapter trained further, with its own settings and layers. */
  continued?: LoraAdapter;
}

/** The base and LoRA settings of a fine-tune, as finetune trains them and estimate measures them. */
export function finetuneTarget(req: FinetuneTargetRequest): FinetuneTarget {
  let lora = req.lora ? loraSettings(req) : undefined;
  const loraOnly = [req.rank, req.alpha, req.rslora, req.loraDropout, req.targets];
  if (!lora && loraOnly.some((v) => v !== undefined)) {
    throw new UserError(
      '--rank, --alpha, --rslora, --lora-dropout and --targets set up LoRA: add --lora (without it every weight is fine-tuned)',
    );
  }
  const asked = readModelFolder(resolveCheckpoint(req.basePath), req.base);
  // --lora on a LoRA adapter (PEFT's or ours) trains that adapter further, on its own base.
  const continued = lora && asked.kind === 'adapter' ? continuedAdapter(asked, req) : undefined;
  const base = continued ? asked.base! : asked;
  if (continued) lora = continued.settings;
  if (lora) refuseDytExport(base.config, "LoRA cannot be trained in PEFT's format");
  if (lora && req.targets === undefined && !continued) lora.targets = defaultLoraTargets(base.config);
  const modules = continued ? [...continued.layers.keys()] : lora ? matchTargets(base.config, lora.targets) : [];
  return { base, lora, modules, continued };
}

/** A LoRA adapter trained further keeps its own r, alpha, rsLoRA, dropout, targets and layers. */
function continuedAdapter(adapter: ModelFiles, req: FinetuneTargetRequest): LoraAdapter {
  const flags = {
    '--rank': req.rank,
    '--alpha': req.alpha,
    '--rslora': req.rslora,
    '--lora-dropout': req.loraDropout,
    '--targets': req.targets,
  };
  for (const [flag, given] of Object.entries(flags))
    if (given !== undefined)
      throw new UserError(
        '{0} is a LoRA adapter, trained further with its own r, lora_alpha, use_rslora, lora_dropout and target_modules: leave out {1}',
        adapter.dir,
        flag,
      );
  return readAdapter(adapter.dir, adapter.base!.config);
}

function loraSettings(req: FinetuneTargetRequest): LoraSettings {
  const r = req.rank ?? 8;
  if (!Number.isInteger(r) || r < 1 || r > 4096) throw new UserError('--rank must be a whole number from 1 to 4096 (got {0})', r);
  const alpha = req.alpha ?? 2 * r;
  if (!(alpha > 0 && alpha <= MAX_LORA_ALPHA))
    throw new UserError('--alpha must be a positive number up to {0} (got {1})', MAX_LORA_ALPHA, alpha);
  const dropout = req.loraDropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new UserError('--lora-dropout must be at least 0 and below 1 (got {0})', dropout);
  return { r, alpha, rslora: req.rslora ?? false, targets: req.targets ?? [], dropout };
}
