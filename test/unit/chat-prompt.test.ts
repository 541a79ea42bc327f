import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readChatTemplate } from '../../src/core/chat-template';
import { chatPrompt, requireChatTemplate } from '../../src/core/chat-prompt';
import { StopSequenceFilter } from '../../src/core/stop-sequences';
import { REPO, assertCliUserError, runCli, tempDir, userError } from './helpers';

const FIXTURES = join(REPO, 'test/fixtures');
const QA = join(FIXTURES, 'sft/constitution-qa-ko.jsonl');
const QUESTION = '대한민국의 수도는?';
const SYSTEM = '한국어로 짧게 답하세요.';

/** A copy of a fixture model folder, with a chat template as chat_template.jinja or in tokenizer_config.json. */
function modelWith(family: string, template: string | undefined, where: 'jinja' | 'config' = 'jinja'): string {
  const dir = tempDir();
  cpSync(join(FIXTURES, 'hf-llama', family), dir, { recursive: true });
  if (template === undefined) return dir;
  const text = readFileSync(join(FIXTURES, 'sft', template), 'utf8');
  if (where === 'jinja') writeFileSync(join(dir, 'chat_template.jinja'), text);
  else {
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: text }));
  }
  return dir;
}

// transformers 5.18: tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
// on these folders, with [user QUESTION] and [system SYSTEM, user QUESTION].
const EXPECTED = {
  qwen2: {
    plain:
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n대한민국의 수도는?<|im_end|>\n<|im_start|>assistant\n',
    system:
      '<|im_start|>system\n한국어로 짧게 답하세요.<|im_end|>\n<|im_start|>user\n대한민국의 수도는?<|im_end|>\n<|im_start|>assistant\n',
    stops: ['<|im_end|>', '<|endoftext|>'],
  },
  llama: {
    plain:
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n대한민국의 수도는?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    system:
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n한국어로 짧게 답하세요.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n대한민국의 수도는?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    stops: ['<|eot_id|>', '<|end_of_text|>'],
  },
};

for (const [family, template, where] of [
  ['qwen2', 'chatml.jinja', 'jinja'],
  ['llama', 'llama3.jinja', 'config'],
] as const)
  test(`${template} on ${family}: the question is asked as transformers' apply_chat_template(add_generation_prompt=True) renders it, and stops at the end of turn`, () => {
    const chat = readChatTemplate(modelWith(family, template, where))!;
    const plain = chatPrompt(chat, QUESTION);
    assert.equal(plain.prompt, EXPECTED[family].plain);
    assert.deepEqual(plain.stops, EXPECTED[family].stops);
    assert.equal(chatPrompt(chat, QUESTION, SYSTEM).prompt, EXPECTED[family].system);

    // The answer streamed token by token ends where the template closes the turn, markup unseen.
    const filter = new StopSequenceFilter(plain.stops);
    const end = plain.stops[0];
    const pieces = ['서울', '입니다', '.', end.slice(0, 3), end.slice(3), '\n<|im_start|>user'];
    const shown = pieces.map((p) => filter.push(p)).join('') + filter.flush();
    assert.equal(shown, '서울입니다.');
    assert.ok(filter.stopped);
  });

test('a model without a chat template is refused in one line that says what to do', () => {
  const dir = modelWith('qwen2', undefined);
  assert.throws(() => requireChatTemplate(dir), userError(/has no chat template .*add the template the model was trained with/));
});

test('corpus-lab generate MODEL --chat: a Qwen2 model fine-tuned on the Korean Q&A answers in text, without the template’s markup', () => {
  const cwd = tempDir();
  const plain = modelWith('qwen2', undefined);
  assertCliUserError(['generate', plain, '--chat', QUESTION], cwd, /has no chat template/);
  const base = modelWith('qwen2', 'chatml.jinja');
  assertCliUserError(['generate', base, '--chat', QUESTION, '--prompt', 'x'], cwd, /--chat and --prompt/);
  assertCliUserError(['generate', base, '--system', SYSTEM], cwd, /--system goes with --chat/);

  const tune = runCli(
    ['finetune', base, QA, '-o', join(cwd, 'run'), '--max-steps', '30', '--lr', '3e-3', '--context', '128', '--json'],
    cwd,
    300_000,
  );
  assert.equal(tune.code, 0, tune.stderr);
  const run = join(cwd, 'run');
  const asked = ['generate', run, '--chat', '대한민국의 주권은 누구에게 있나요?', '--temperature', '0', '--max-tokens', '60'];
  const json = runCli([...asked, '--json'], cwd, 120_000);
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.ok(result.prompt.endsWith('<|im_start|>assistant\n'), result.prompt);
  assert.equal(result.stopped_by, 'stop-sequence', `the answer ends its turn: ${result.text}`);
  assert.match(result.text, /[가-힣]/);
  assert.doesNotMatch(result.text, /<\|im_(start|end)\|>|<\|endoftext\|>/);

  const human = runCli([...asked, '--system', SYSTEM], cwd, 120_000);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /[가-힣]/);
  assert.doesNotMatch(human.stdout, /<\|im_|assistant\n|user\n/);
});
