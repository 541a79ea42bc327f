import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { TrainResult } from '../../src/worker/train/trainer';
import type { TrainEvent } from '../../src/core/train-events';
import type { ModelSummary } from '../../src/worker/protocol';
import type { RunsNode } from '../../src/extension/runs-tree';
import { estimateMethods, EDITOR_LORA_RANK } from '../../src/extension/commands/finetune';
import { Tokenizer, trainTokenizer } from '../../src/core/tokenizer';
import { ModelConfig } from '../../src/core/model-config';
import { parameterCount } from '../../src/core/weight-table';
import { formatBytes } from '../../src/core/format-bytes';
import { randomTensor, randomWeights, writeGpt2Folder } from '../gpt2-folder';
import { writePeftAdapter } from '../peft-adapter-folder';
import { LoraAdapter, loraModuleShapes } from '../../src/core/lora-adapter';
import { Rng } from '../../src/core/rng';
import { workspace, en, ko, settle } from './fixtures';

// Issue 12 in the editor: fine-tune the active model on a file, open a Hugging Face folder as the
// active model, the Runs view's fine-tuned runs with Merge and Quantize, base vs fine-tuned samples.
let api: CorpusLabApi;

/** The Runs view's nodes, depth first. */
async function allNodes(node?: RunsNode): Promise<RunsNode[]> {
  const children = await api.runs.getChildren(node);
  return (await Promise.all(children.map(async (c) => [c, ...(await allNodes(c))]))).flat();
}

const runNode = async (dir: string) =>
  (await allNodes()).find((n): n is Extract<RunsNode, { kind: 'run' }> => n.kind === 'run' && n.path === dir);

/** A GPT-2-layout folder with random weights, a byte-level BPE and 512 positions (over 256: a "big" base). */
function writeRandomGpt2(name: string): { dir: string; config: ModelConfig; tokenizer: Tokenizer } {
  const text = readFileSync(en.fsPath, 'utf8') + readFileSync(ko.fsPath, 'utf8');
  const tokenizer = trainTokenizer(text, { kind: 'bpe', vocabSize: 400 });
  const config: ModelConfig = {
    vocabSize: tokenizer.vocabSize,
    context: 512,
    layers: 1,
    heads: 2,
    width: 32,
    norm: 'layernorm',
    dropout: 0,
    bias: true,
  };
  const dir = writeGpt2Folder(join(workspace, 'models', name), config, randomWeights(config, 5), tokenizer.toJSON());
  return { dir, config, tokenizer };
}

describe('Fine-tuning in the editor (issue 12)', () => {
  let baseCheckpoint: string;
  let baseValLoss: number;
  let loraRun: string;

  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
    // A small Corpus Lab run as the base, made here.
    const base = (await vscode.commands.executeCommand('corpusLab.train', en, { preset: 'tiny', maxSteps: 20 })) as TrainResult;
    assert.equal(base.reason, 'completed');
    // Better English models trained before keep their file (issue 18 item 2): this base is made active by hand.
    baseCheckpoint = base.best?.checkpoint ?? base.checkpoint;
    baseValLoss = base.best?.valLoss ?? base.valLoss;
    await api.ctx.setActiveModel(baseCheckpoint);
    assert.ok(existsSync(join(baseCheckpoint, 'model.safetensors')));
  });

  it('"Fine-tune Active Model on This File…" sits next to Train in the explorer and editor context menus', () => {
    const menus = vscode.extensions.getExtension('corpus-lab.corpus-lab')!.packageJSON.contributes.menus as Record<
      string,
      { command: string; when?: string; group?: string }[]
    >;
    for (const where of ['explorer/context', 'editor/context']) {
      const train = menus[where].find((m) => m.command === 'corpusLab.train')!;
      const ft = menus[where].find((m) => m.command === 'corpusLab.finetune');
      assert.ok(ft, `${where} has the fine-tune entry`);
      assert.equal(ft.when, train.when, where);
      // The same group, right after Train.
      const [group, order] = ft.group!.split('@');
      assert.equal(group, train.group!.split('@')[0], where);
      assert.ok(Number(order) > Number(train.group!.split('@')[1]) && Number(order) < 2, where);
    }
  });

  it('the pick measures LoRA r=8 and full fine-tuning here: trainable parameters, time per epoch, memory', async () => {
    const items = await estimateMethods(api.ctx, ko, baseCheckpoint);
    assert.deepEqual(
      items.map((i) => i.method),
      ['lora', 'full'],
    );
    const [lora, full] = items.map((i) => i.estimate!);
    assert.ok(lora && full, items.map((i) => i.detail).join(' | '));
    // tiny: 4 blocks of width 128; r 8 on c_attn (128→384), attn.c_proj (128→128), mlp.c_fc (128→512), mlp.c_proj (512→128)
    const perBlock = EDITOR_LORA_RANK * (128 + 384 + 128 + 128 + 128 + 512 + 512 + 128);
    assert.equal(lora.trainableParams, 4 * perBlock);
    assert.equal(lora.params, parameterCount(full.config) + 4 * perBlock);
    assert.equal(full.trainableParams, full.params);
    for (const e of [lora, full]) {
      assert.ok(e.secondsPerEpoch! > 0 && e.measuredBytes! > 0, JSON.stringify(e));
      assert.equal(e.window, 64);
    }
    // Measured, not computed: at least the weights (and for full fine-tuning their two AdamW moments) are held.
    assert.ok(full.measuredBytes! >= 3 * 4 * full.params, `full: ${full.measuredBytes} bytes measured for ${full.params} parameters`);
    assert.ok(lora.measuredBytes! >= 4 * lora.params, `LoRA: ${lora.measuredBytes} bytes measured for ${lora.params} parameters`);
    assert.match(items[0].detail!, new RegExp(`${lora.trainableParams.toLocaleString()} trainable parameters \\(\\d+\\.\\d+% of`));
    assert.match(items[0].detail!, /per epoch · .* memory/);
    // Both methods' memory by the same measure, the step's measured peak (issue 18 item 20; issue 20).
    assert.ok(items[0].detail!.includes(`${formatBytes(lora.measuredBytes!)} memory (measured)`), items[0].detail);
    assert.ok(items[1].detail!.includes(`${formatBytes(full.measuredBytes!)} memory (measured)`), items[1].detail);
  });

  it('fine-tunes with LoRA in the training worker with Train’s progress and events; the adapter becomes the active model', async () => {
    const seen: TrainEvent[] = [];
    const sub = api.ctx.onTrainEvent(({ event }) => seen.push(event));
    let result: TrainResult | undefined;
    try {
      const running = vscode.commands.executeCommand('corpusLab.finetune', en, { method: 'lora', maxSteps: 8 }) as Thenable<
        TrainResult | undefined
      >;
      await settle(200);
      assert.ok(api.ctx.training, 'the status bar and Cancel see a run in progress');
      result = await running;
    } finally {
      sub.dispose();
    }
    assert.ok(result, 'fine-tuning failed (see the log)');
    assert.equal(result.reason, 'completed');
    assert.equal(result.step, 8);
    assert.equal(api.ctx.training, undefined);
    const start = seen.find((e) => e.type === 'start');
    assert.ok(start?.type === 'start' && start.trainable_params < start.params);
    assert.ok(
      seen.some((e) => e.type === 'eval' && typeof e.base_val_loss === 'number'),
      'the forgetting meter runs (the base run’s corpus is on disk)',
    );
    assert.ok(existsSync(join(result.checkpoint, 'adapter_model.safetensors')));
    loraRun = dirname(dirname(result.checkpoint));
    const run = JSON.parse(readFileSync(join(loraRun, 'run.json'), 'utf8'));
    assert.equal(run.finetune.base, baseCheckpoint);
    assert.equal(run.finetune.lora.r, EDITOR_LORA_RANK);
    // The adapter takes the file from its base (which serves it) only with a lower validation loss.
    const adapterLoss = result.best?.valLoss ?? result.valLoss;
    assert.equal(api.ctx.activeModel, adapterLoss < baseValLoss ? (result.best?.checkpoint ?? result.checkpoint) : baseCheckpoint);
  });

  it('with an adapter as the active model, LoRA continues it with its own rank on its base, measured, and trains it further; full fine-tuning is measured', async () => {
    const adapter = join(loraRun, 'checkpoints', readdirSync(join(loraRun, 'checkpoints')).sort().at(-1)!);
    const [lora, full] = await estimateMethods(api.ctx, en, adapter);
    assert.ok(lora.estimate, lora.detail);
    assert.deepEqual(lora.estimate.lora, { r: EDITOR_LORA_RANK, continued: true });
    assert.equal(lora.label, `Continue this LoRA adapter (r=${EDITOR_LORA_RANK})`);
    assert.ok(lora.estimate.secondsPerEpoch! > 0 && lora.estimate.trainableParams < lora.estimate.params, lora.detail);
    assert.ok(full.estimate && full.estimate.trainableParams === full.estimate.params, full.detail);
    const active = api.ctx.activeModel;
    await api.ctx.setActiveModel(adapter);
    try {
      const result = (await vscode.commands.executeCommand('corpusLab.finetune', en, { method: 'lora', maxSteps: 1 })) as TrainResult;
      assert.equal(result?.reason, 'completed');
      const config = JSON.parse(readFileSync(join(result.checkpoint, 'adapter_config.json'), 'utf8'));
      assert.equal(config.r, EDITOR_LORA_RANK);
      assert.equal(config.base_model_name_or_path, baseCheckpoint, "the adapter's own base, not the adapter merged");
    } finally {
      await api.ctx.setActiveModel(active);
    }
  });

  it('the Runs view shows the fine-tuned run under its base run, with Merge and Quantize, whose outputs can be made active', async () => {
    const baseRun = dirname(dirname(baseCheckpoint));
    const top = await api.runs.getChildren();
    assert.ok(!top.some((n) => n.path === loraRun), 'not a top-level run');
    const parent = top.find((n) => n.path === baseRun)!;
    const children = await api.runs.getChildren(parent);
    const node = children.find((n) => n.path === loraRun)!;
    assert.ok(node, 'the LoRA run is a child of its base run');
    const item = api.runs.getTreeItem(node);
    assert.equal(item.contextValue, 'run.completed.lora');
    assert.match(String(item.description), new RegExp(`LoRA r=${EDITOR_LORA_RANK} on `));

    const merged = (await vscode.commands.executeCommand('corpusLab.mergeAdapter', node, { activate: true })) as string;
    assert.ok(merged && existsSync(join(merged, 'model.safetensors')) && !existsSync(join(merged, 'adapter_config.json')));
    assert.equal(api.ctx.activeModel, merged);
    await settle(1200);
    const afterMerge = (await api.runs.getChildren((await runNode(loraRun))!)).filter((n) => n.kind === 'export');
    assert.deepEqual(
      afterMerge.map((n) => n.path),
      [merged],
    );
    assert.equal(api.runs.getTreeItem(afterMerge[0]).contextValue, 'export');

    const int8 = (await vscode.commands.executeCommand('corpusLab.quantize', (await runNode(loraRun))!, { activate: true })) as string;
    assert.ok(int8 && existsSync(join(int8, 'model-int8.safetensors')));
    assert.equal(api.ctx.activeModel, int8);
    // The int8 model completes text.
    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: 'We shall ' });
    const context = {
      triggerKind: vscode.InlineCompletionTriggerKind.Invoke,
      selectedCompletionInfo: undefined,
    } as vscode.InlineCompletionContext;
    const items = await api.completion.provideInlineCompletionItems(
      doc,
      doc.positionAt(9),
      context,
      new vscode.CancellationTokenSource().token,
    );
    assert.ok(items && items.length === 1 && (items[0].insertText as string).length > 0);
  });

  it('Compare Samples: the base and the fine-tuned model continue the same prompt with the same seed, side by side', async () => {
    const node = (await runNode(loraRun))!;
    const r = (await vscode.commands.executeCommand('corpusLab.compareSamples', node, {
      prompt: 'We shall ',
      seed: 11,
      maxTokens: 24,
    })) as { base: string; tuned: string; document: vscode.TextDocument };
    assert.ok(r, 'compare failed (see the log)');
    const again = (checkpoint: string) =>
      api.ctx.inference.request((id) => ({
        kind: 'generate',
        id,
        checkpoint,
        prompt: 'We shall ',
        options: { temperature: 0.8, topK: 0, topP: 0.95, maxTokens: 24, seed: 11, stop: [] },
      })).result;
    assert.equal(r.base, (await again(baseCheckpoint)).text, 'the left column is the base model, seed 11');
    const { bestCheckpoint } = await import('../../src/extension/runs-tree');
    assert.equal(r.tuned, (await again(bestCheckpoint(node.run)!.dir)).text, 'the right column is the fine-tuned model, seed 11');
    // A run stands for the checkpoint the Runs view marks best, not its newest (issue 18 item 20), for
    // Compare Samples, Merge and Quantize alike.
    const { checkpointOf } = await import('../../src/extension/commands/models');
    const checkpoints = [
      { dir: '/runs/r/checkpoints/epoch-0002', name: 'epoch-0002', step: 20, valLoss: 1.5 },
      { dir: '/runs/r/checkpoints/epoch-0004', name: 'epoch-0004', step: 40, valLoss: 1.9 },
    ];
    const overfit = { ...node, run: { ...node.run, checkpoints } };
    assert.equal(checkpointOf(overfit), '/runs/r/checkpoints/epoch-0002');
    const text = r.document.getText();
    assert.match(text, /\| Base: .* \| Fine-tuned: .* \|/);
    assert.ok(text.includes(`We shall ${r.base}`.replace(/\n/g, '<br>').replace(/\|/g, '\\|')));
    assert.ok(text.includes(`We shall ${r.tuned}`.replace(/\n/g, '<br>').replace(/\|/g, '\\|')));
  });

  it('Open Hugging Face Model Folder… validates in the worker and makes it the active model: completion, Tokens and Next Token use it', async () => {
    const { dir, tokenizer } = writeRandomGpt2('gpt2-random');
    const summary = (await vscode.commands.executeCommand('corpusLab.openModelFolder', dir)) as ModelSummary;
    assert.equal(summary.kind, 'huggingface');
    assert.equal(summary.context, 512);
    assert.equal(api.ctx.activeModel, dir);
    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: 'We shall ' });
    const context = {
      triggerKind: vscode.InlineCompletionTriggerKind.Invoke,
      selectedCompletionInfo: undefined,
    } as vscode.InlineCompletionContext;
    const items = await api.completion.provideInlineCompletionItems(
      doc,
      doc.positionAt(9),
      context,
      new vscode.CancellationTokenSource().token,
    );
    assert.ok(items && items.length === 1 && (items[0].insertText as string).length > 0, 'completion from the Hugging Face folder');

    // Once another model is active, the folder and the merged model are still offered for a file (issue 18 item 20).
    await api.ctx.setActiveModel(baseCheckpoint);
    const offered = (await api.ctx.serving.candidates()).map((c) => c.model);
    assert.ok(offered.includes(dir), `the opened folder among ${offered.join(', ')}`);
    assert.ok(
      offered.some((m) => m.endsWith('-merged')),
      `the merged model among ${offered.join(', ')}`,
    );
    await api.ctx.setActiveModel(dir);

    // speech-ko.txt is served by a model trained on it: the folder is chosen for it here.
    await vscode.commands.executeCommand('corpusLab.chooseModelForFile', ko, dir);
    const editor = await vscode.window.showTextDocument(ko);
    editor.selection = new vscode.Selection(0, 0, 2, 0);
    await vscode.commands.executeCommand('corpusLab.showTokens');
    const selected = editor.document.getText(editor.selection);
    let shown = api.tokens.lastShown;
    for (let i = 0; i < 50 && !(shown?.text === selected && shown.ids.length === tokenizer.encode(selected).length); i++) {
      await settle(100);
      shown = api.tokens.lastShown;
    }
    assert.deepEqual(shown?.ids, tokenizer.encode(selected), 'the Tokens view shows the folder’s tokenizer');

    editor.selection = new vscode.Selection(1, 3, 1, 3);
    await vscode.commands.executeCommand('corpusLab.showNextToken');
    let next = api.nextToken.lastShown;
    for (let i = 0; i < 100 && next?.model !== 'gpt2-random'; i++) {
      await settle(100);
      next = api.nextToken.lastShown;
    }
    assert.equal(next?.model, 'gpt2-random');
    assert.equal(next?.logits.length, 400, 'logits over the folder’s vocabulary');
    await vscode.commands.executeCommand('corpusLab.chooseModelForFile', ko, null);

    // The Runs view shows the folder as a model of its own.
    const base = (await api.runs.getChildren()).find((n) => n.kind === 'base' && n.path === dir);
    assert.ok(base, 'the active Hugging Face folder is in the Runs view');
  });

  it('fine-tuning a Hugging Face base (512 positions) trains 256-token windows, 4 a batch; the run sits under the folder’s node', async () => {
    const dir = api.ctx.activeModel!;
    const items = await estimateMethods(api.ctx, en, dir);
    const lora = items[0].estimate!;
    assert.ok(lora, items[0].detail);
    assert.equal(lora.window, 256);
    assert.equal(lora.batch, 4);
    assert.match(items[0].description!, /windows of 256 tokens × 4/);
    const result = (await vscode.commands.executeCommand('corpusLab.finetune', en, { method: 'lora', maxSteps: 3 })) as TrainResult;
    assert.equal(result?.reason, 'completed');
    const run = dirname(dirname(result.checkpoint));
    await settle(1200);
    const base = (await api.runs.getChildren()).find((n) => n.kind === 'base' && n.path === dir)!;
    assert.ok(base, 'the base folder’s node');
    assert.deepEqual(
      (await api.runs.getChildren(base)).map((n) => n.path),
      [run],
    );
    // Three LoRA steps on a random base do not beat the English models trained before: the folder
    // stays active and speech-en.txt keeps its model (issue 18 item 2).
    assert.equal(api.ctx.activeModel, dir);
    assert.equal(api.runs.getTreeItem(base).description, 'Hugging Face model · active');
  });

  it('Cancel Training stops a full fine-tuning run within seconds and keeps its checkpoint', async () => {
    const started = new Promise<void>((resolve) => {
      const sub = api.ctx.onTrainEvent(({ event }) => {
        if (event.type === 'step' && event.step >= 2) {
          sub.dispose();
          resolve();
        }
      });
    });
    const running = vscode.commands.executeCommand('corpusLab.finetune', ko, { method: 'full', maxSteps: 100000 }) as Thenable<TrainResult>;
    await started;
    const t0 = performance.now();
    await vscode.commands.executeCommand('corpusLab.cancelTraining');
    const result = await running;
    assert.equal(result?.reason, 'cancelled');
    assert.ok(existsSync(join(result.checkpoint, 'optimizer.safetensors')) && existsSync(join(result.checkpoint, 'model.safetensors')));
    assert.ok((performance.now() - t0) / 1000 < 5);
    assert.equal(JSON.parse(readFileSync(join(dirname(dirname(result.checkpoint)), 'run.json'), 'utf8')).finetune.lora, undefined);
  });

  it('a folder that is not a model is refused with the reason, and the active model stays', async () => {
    const active = api.ctx.activeModel;
    const bad = (name: string, files: Record<string, string>) => {
      const dir = join(workspace, 'models', name);
      mkdirSync(dir, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
      return dir;
    };
    const open = async (dir: string) => (await vscode.commands.executeCommand('corpusLab.openModelFolder', dir)) as { error?: string };
    assert.match((await open(bad('empty', {}))).error!, /^empty is not a Hugging Face model folder: it has no config\.json\.$/);
    assert.match(
      (await open(bad('pickle', { 'config.json': '{}', 'pytorch_model.bin': 'x', 'tokenizer.json': '{}' }))).error!,
      /has only pytorch_model\.bin, a pickle/,
    );
    assert.match(
      (await open(bad('no-tokenizer', { 'config.json': '{}', 'model.safetensors': 'x' }))).error!,
      /is not a complete model folder: tokenizer\.json is missing/,
    );
    const { dir } = writeRandomGpt2('gpt2-broken');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, n_head: 3 }));
    const broken = await open(dir);
    assert.match(broken.error!, /^gpt2-broken cannot be used as a model: .*(head|n_head)/);
    assert.equal(api.ctx.activeModel, active);
    assert.ok(readdirSync(join(workspace, 'models')).includes('gpt2-broken'));
  });

  it('Open Hugging Face Model Folder… opens a LoRA adapter saved by PEFT: the base its config names, else the one picked; recorded; a misfit is refused', async () => {
    const { dir: base, config } = writeRandomGpt2('peft-base');
    const rng = new Rng(3);
    const [inDim, outDim] = loraModuleShapes(config).get('transformer.h.0.attn.c_attn')!;
    const adapter: LoraAdapter = {
      settings: { r: 2, alpha: 4, rslora: false, targets: ['c_attn'], dropout: 0 },
      layers: new Map([['transformer.h.0.attn.c_attn', { a: randomTensor([2, inDim], rng, 0.3), b: randomTensor([outDim, 2], rng, 0.3) }]]),
    };
    const recorded = (dir: string) => JSON.parse(readFileSync(join(dir, 'adapter_base.json'), 'utf8')).path;
    // base_model_name_or_path is the base's absolute path: no question asked.
    const named = writePeftAdapter(join(workspace, 'models', 'peft-named'), adapter, base);
    const summary = (await vscode.commands.executeCommand('corpusLab.openModelFolder', named)) as ModelSummary;
    assert.equal(summary.kind, 'adapter');
    assert.equal(api.ctx.activeModel, named);
    assert.equal(recorded(named), base);
    // A Hub id: the base is picked (answered here), then recorded for every later use.
    const hub = writePeftAdapter(join(workspace, 'models', 'peft-hub'), adapter, 'openai-community/gpt2');
    const picked = (await vscode.commands.executeCommand('corpusLab.openModelFolder', hub, base)) as ModelSummary;
    assert.equal(picked.kind, 'adapter');
    assert.equal(recorded(hub), base);
    // A base of another width does not fit: refused with the reason, nothing recorded, the active model stays.
    const wide: ModelConfig = { ...config, width: 64 };
    const other = writeGpt2Folder(
      join(workspace, 'models', 'peft-other-base'),
      wide,
      randomWeights(wide, 6),
      readFileSync(join(base, 'tokenizer.json'), 'utf8'),
    );
    const misfit = writePeftAdapter(join(workspace, 'models', 'peft-misfit'), adapter, 'gpt2');
    const refused = (await vscode.commands.executeCommand('corpusLab.openModelFolder', misfit, other)) as { error?: string };
    assert.match(
      refused.error!,
      /^peft-misfit cannot be used as a model: .*peft-misfit does not fit the base model .*peft-other-base: .*has shape \[2, 32\] but the config needs \[2, 64\]/,
    );
    assert.ok(!existsSync(join(misfit, 'adapter_base.json')));
    assert.equal(api.ctx.activeModel, hub);
  });
});
