import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readChatTemplate, renderChat } from '../../src/core/chat-template';
import { CHAT_TEMPLATE_FILE } from '../../src/core/hf-export';
import { CLI, KOREAN, REPO, tempDir } from './helpers';

const PYTHON = '/usr/bin/python3';
const QA = join(REPO, 'test/fixtures/sft/constitution-qa-ko.jsonl');
const CONVERSATION = [
  { role: 'system' as const, content: '헌법 도우미' },
  { role: 'user' as const, content: '대한민국의 주권은 누구에게 있나요?' },
  { role: 'assistant' as const, content: '국민에게 있습니다.' },
];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r;
}

/**
 * The two ways a base carries its template: Llama 3's (with {{ bos_token }}) inside tokenizer_config.json,
 * and Qwen's ChatML in chat_template.jinja.
 */
function bases(root: string): { name: string; dir: string; inConfig: boolean }[] {
  const llama = join(root, 'llama');
  cpSync(join(REPO, 'test/fixtures/hf-llama/llama'), llama, { recursive: true });
  const config = JSON.parse(readFileSync(join(llama, 'tokenizer_config.json'), 'utf8'));
  config.chat_template = readFileSync(join(REPO, 'test/fixtures/sft/llama3.jinja'), 'utf8');
  writeFileSync(join(llama, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  const qwen2 = join(root, 'qwen2');
  cpSync(join(REPO, 'test/fixtures/hf-llama/qwen2'), qwen2, { recursive: true });
  cpSync(join(REPO, 'test/fixtures/sft/chatml.jinja'), join(qwen2, CHAT_TEMPLATE_FILE));
  return [
    { name: 'llama', dir: llama, inConfig: true },
    { name: 'qwen2', dir: qwen2, inConfig: false },
  ];
}

/** `dir` has the base's template where the base had it, its special tokens as they were, and renders a conversation as the base does. */
function assertKeepsTemplate(dir: string, base: { dir: string; inConfig: boolean }, what: string) {
  const file = (d: string, f: string) => readFileSync(join(d, f), 'utf8');
  assert.equal(file(dir, 'tokenizer_config.json'), file(base.dir, 'tokenizer_config.json'), `${what}: tokenizer_config.json`);
  assert.equal(existsSync(join(dir, CHAT_TEMPLATE_FILE)), !base.inConfig, `${what}: ${CHAT_TEMPLATE_FILE} only where the base had one`);
  if (!base.inConfig) assert.equal(file(dir, CHAT_TEMPLATE_FILE), file(base.dir, CHAT_TEMPLATE_FILE), `${what}: ${CHAT_TEMPLATE_FILE}`);
  const render = (d: string) => renderChat(readChatTemplate(d)!, CONVERSATION, false);
  assert.equal(render(dir), render(base.dir), `${what}: the conversation as the template renders it`);
}

test('a full fine-tune of a Llama or Qwen folder keeps its base’s chat template and special tokens: its checkpoints, its export for torchrun (and what train.py writes), its int8 copy and a merge of an adapter trained on it', (t) => {
  const root = tempDir('corpus-lab-chat-template-');
  // quantize measures the int8 copy on a text: a short one, as only its folder is checked here.
  const shortText = join(root, 'short.txt');
  writeFileSync(shortText, readFileSync(KOREAN, 'utf8').slice(0, 400));
  const torch = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
  for (const base of bases(root)) {
    const run = join(root, `${base.name}-full`);
    cli('finetune', base.dir, QA, '--max-steps', '2', '--batch', '2', '--context', '128', '--backend', 'wasm', '--threads', '1', '-o', run);
    const checkpoint = join(run, 'checkpoints', 'step-00000002');
    assertKeepsTemplate(checkpoint, base, `${base.name}: the run's checkpoint`);

    const exp = join(root, `${base.name}-export`);
    cli('export-torch', run, '-o', exp);
    assertKeepsTemplate(join(exp, 'checkpoints', 'step-00000002'), base, `${base.name}: the exported checkpoint`);

    const int8 = join(root, `${base.name}-int8`);
    cli('quantize', checkpoint, '-o', int8, '--text', shortText, '--backend', 'wasm');
    assertKeepsTemplate(int8, base, `${base.name}: quantize`);

    const lora = join(root, `${base.name}-lora`);
    cli('finetune', checkpoint, QA, '--lora', '--max-steps', '1', '--batch', '2', '--context', '128', '--backend', 'wasm', '-o', lora);
    const merged = join(root, `${base.name}-merged`);
    cli('merge', lora, '-o', merged);
    assertKeepsTemplate(merged, base, `${base.name}: merge of an adapter on the fine-tune`);

    if (!torch) {
      t.diagnostic('PyTorch is not installed: train.py’s checkpoints not checked');
      continue;
    }
    const torchRun = join(root, `${base.name}-torch`);
    const r = spawnSync(PYTHON, [join(exp, 'train.py'), '--device', 'cpu', '--max-steps', '3', '--out', torchRun], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    assertKeepsTemplate(join(torchRun, 'checkpoints', 'step-00000003'), base, `${base.name}: train.py's checkpoint`);
  }
});
