import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusLabApi } from '../../src/extension/main';
import type { RunsNode } from '../../src/extension/runs-tree';
import { workspace, ko } from './fixtures';

// Issue 20: Continue on a GPU Machine… for a LoRA fine-tune of a modern model.
let api: CorpusLabApi;

async function allNodes(node?: RunsNode): Promise<RunsNode[]> {
  const children = await api.runs.getChildren(node);
  return (await Promise.all(children.map(async (c) => [c, ...(await allNodes(c))]))).flat();
}

describe('Continue on a GPU Machine… for LoRA runs (issue 20)', () => {
  before(async () => {
    api = await vscode.extensions.getExtension<CorpusLabApi>('corpus-lab.corpus-lab')!.activate();
  });

  it('exports a Qwen2 LoRA run for train_peft.py, its base referenced or copied into the folder as the user picks', async () => {
    const extension = vscode.extensions.getExtension('corpus-lab.corpus-lab')!;
    const base = join(workspace, 'texts', 'hf-llama', 'qwen2');
    const runDir = join(api.ctx.runsRoot(), 'qwen2-lora-for-gpu');
    const trained = spawnSync(
      process.execPath,
      [join(extension.extensionPath, 'dist', 'cli.js'), 'finetune', base, ko.fsPath, '--lora', '--max-steps', '1', '--batch', '2'].concat([
        '--context',
        '32',
        '--backend',
        'wasm',
        '-o',
        runDir,
      ]),
      { encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } },
    );
    assert.equal(trained.status, 0, trained.stderr);
    const node = (await allNodes()).find((n) => n.kind === 'run' && n.path === runDir);
    assert.ok(node, 'the LoRA run is in the Runs view');
    const window = vscode.window as unknown as Record<string, unknown>;
    const saved = { showQuickPick: window.showQuickPick, showSaveDialog: window.showSaveDialog };
    const asked: string[] = [];
    try {
      for (const copy of [false, true]) {
        const out = join(workspace, `qwen2-lora-gpu-${copy ? 'with' : 'without'}-base`);
        window.showQuickPick = async (items: (vscode.QuickPickItem & { copy: boolean })[], options: vscode.QuickPickOptions) => {
          asked.push(options.title!);
          return items.find((i) => i.copy === copy);
        };
        window.showSaveDialog = async () => vscode.Uri.file(out);
        const dir: string | undefined = await vscode.commands.executeCommand('corpusLab.continueOnGpu', node);
        assert.equal(dir, out);
        for (const f of ['train_peft.py', 'train.py', 'base.json', 'plan.json', 'README.md']) assert.ok(existsSync(join(out, f)), f);
        assert.equal(JSON.parse(readFileSync(join(out, 'base.json'), 'utf8')).path, base);
        assert.equal(existsSync(join(out, 'base', 'model.safetensors.index.json')), copy, `base copied: ${copy}`);
      }
    } finally {
      Object.assign(window, saved);
    }
    assert.deepEqual(asked, ['The base model of this LoRA run', 'The base model of this LoRA run']);
  });
});
