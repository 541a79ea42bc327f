import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, tf } from '../../src/worker/engine/backend';
import { Gpt } from '../../src/worker/model/gpt';
import { readModelFolder } from '../../src/core/model-folder';
import { parseSftJsonl, readSftJsonl } from '../../src/core/sft-data';
import { readChatTemplate } from '../../src/core/chat-template';
import { IGNORED, SftModel, SftRow, tokenizeExamples } from '../../src/core/sft-examples';
import { trainTokenizer } from '../../src/core/tokenizer';
import { endOfTextId } from '../../src/core/finetune-data';
import { exampleBatch, splitExamples } from '../../src/core/example-batches';
import { previewParts, previewText } from '../../src/core/sft-preview';
import { splitBatch } from '../../src/worker/train/train-step';
import { documentTokens } from '../../src/core/documents';
import { assertCliUserError, jsonLines, REPO, runCli, tempDir, userError } from './helpers';
import { loadAddon } from '../../src/worker/engine/native';
import { runEstimateJob } from '../../src/worker/jobs/estimate-job';

const FIXTURES = join(REPO, 'test/fixtures');
const QA = join(FIXTURES, 'sft/constitution-qa-ko.jsonl');
const REFERENCE = JSON.parse(readFileSync(join(FIXTURES, 'sft/reference.json'), 'utf8')) as Record<
  string,
  { text: string; prompt: string; ids: number[] }
>;

/** A copy of a fixture model folder with a chat template: as chat_template.jinja, or in tokenizer_config.json. */
function withTemplate(family: string, template: string | undefined, where: 'jinja' | 'config' = 'jinja'): string {
  const dir = tempDir();
  const from = join(FIXTURES, 'hf-llama', family);
  for (const f of [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'generation_config.json',
    'model.safetensors',
    'model.safetensors.index.json',
  ])
    try {
      copyFileSync(join(from, f), join(dir, f));
    } catch {
      // not every family has every file
    }
  for (const f of readdirSync(from).filter((name) => /^model-\d+-of-\d+\.safetensors$/.test(name)))
    copyFileSync(join(from, f), join(dir, f));
  if (template === undefined) return dir;
  const text = readFileSync(join(FIXTURES, 'sft', template), 'utf8');
  if (where === 'jinja') writeFileSync(join(dir, 'chat_template.jinja'), text);
  else {
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: text }));
  }
  return dir;
}

function sftModel(dir: string): SftModel {
  const m = readModelFolder(dir);
  return { tokenizer: m.tokenizer, dir, chat: readChatTemplate(dir), eosId: endOfTextId(dir, m.tokenizer) };
}

test("JSON Lines in TRL's four formats; mixed formats, bad JSON and unknown keys are refused naming the line", () => {
  const lines = (...xs: object[]) => xs.map((x) => JSON.stringify(x)).join('\n') + '\n';
  assert.deepEqual(parseSftJsonl(lines({ text: 'a' }, { text: 'b' }), 'f'), [
    { format: 'text', text: 'a' },
    { format: 'text', text: 'b' },
  ]);
  assert.deepEqual(parseSftJsonl(lines({ prompt: 'q', completion: 'a' }), 'f'), [
    { format: 'prompt-completion', prompt: 'q', completion: 'a' },
  ]);
  const msgs = [
    { role: 'user', content: 'q' },
    { role: 'assistant', content: 'a' },
  ];
  assert.equal(parseSftJsonl(lines({ messages: msgs }), 'f')[0].format, 'conversational');
  assert.equal(parseSftJsonl(lines({ prompt: [msgs[0]], completion: [msgs[1]] }), 'f')[0].format, 'conversational-prompt-completion');
  assert.equal(readSftJsonl(QA).length, 100);

  assert.throws(
    () => parseSftJsonl(lines({ text: 'a' }, {}, { messages: msgs }), 'data.jsonl'),
    userError(/^data\.jsonl line 2 has none of the keys/),
  );
  assert.throws(
    () => parseSftJsonl(lines({ text: 'a' }) + '\n' + lines({ messages: msgs }), 'data.jsonl'),
    userError(/^data\.jsonl line 3 is in the format \{"messages".*but line 1 is \{"text"\}: one format per file$/),
  );
  assert.throws(() => parseSftJsonl('{"text": "a"}\n{"text": \n', 'd'), userError(/^d line 2 is not JSON/));
  assert.throws(() => parseSftJsonl('[1]\n', 'd'), userError(/^d line 1 is not a JSON object/));
  assert.throws(
    () => parseSftJsonl(lines({ prompt: 'q', completion: [msgs[1]] }), 'd'),
    userError(/line 1: "prompt" and "completion" must both be/),
  );
  assert.throws(
    () => parseSftJsonl(lines({ messages: [{ role: 'user', content: 3 }] }), 'd'),
    userError(/line 1: message 1 of "messages" must be/),
  );
  assert.throws(() => parseSftJsonl('\n\n', 'd'), userError(/d has no examples/));
});

for (const [family, template, where] of [
  ['qwen2', 'chatml.jinja', 'jinja'],
  ['llama', 'llama3.jinja', 'config'],
] as const)
  test(`${template} (${where}) on ${family}: the text and ids are transformers', the answer and its end-of-turn token alone are trained`, () => {
    const dir = withTemplate(family, template, where);
    const model = sftModel(dir);
    const examples = readSftJsonl(QA).slice(0, 1);
    const { rows, counts } = tokenizeExamples(examples, model, 256, 'qa.jsonl');
    const ref = REFERENCE[family];
    assert.deepEqual(Array.from(rows[0].ids), ref.ids, 'ids equal transformers’ tokenizer on apply_chat_template’s text');
    const trained = Array.from(rows[0].labels).flatMap((l, i) => (i > 0 && l !== IGNORED ? [l] : []));
    const answer = ref.text.slice(ref.prompt.length);
    assert.equal(model.tokenizer.decode(trained), answer);
    assert.match(
      answer,
      family === 'qwen2' ? /^제1조: 대한민국은 민주공화국이다\.<\|im_end\|>\n$/ : /^제1조: 대한민국은 민주공화국이다\.<\|eot_id\|>$/,
    );
    assert.equal(counts.trained, trained.length);
    assert.equal(counts.masked, ref.ids.length - 1 - trained.length);
    const parts = previewParts(rows[0], model.tokenizer);
    assert.equal(previewText(parts), `⟦${ref.prompt}⟧${answer}`);
  });

test('a token a BPE merges across the answer’s edge is trained, and the ids stay the whole text’s', () => {
  const model = sftModel(withTemplate('qwen2', undefined));
  // The fixture's BPE has "민국" as one token: the completion starts inside it.
  const [prompt, completion] = ['대한민', '국은 민주공화국이다.'];
  const whole = model.tokenizer.encode(prompt + completion);
  assert.notDeepEqual([...model.tokenizer.encode(prompt), ...model.tokenizer.encode(completion)], whole, 'pieces tokenise differently');
  const { rows } = tokenizeExamples([{ format: 'prompt-completion', prompt, completion }], model, 64, 'x');
  assert.deepEqual(Array.from(rows[0].ids), [...whole, model.eosId!]);
  const trainedText = model.tokenizer.decode(Array.from(rows[0].labels).filter((l, i) => i > 0 && l !== IGNORED));
  assert.equal(trainedText, '민국은 민주공화국이다.<|endoftext|>');
});

test('a SentencePiece-style tokenizer (Mistral fixture) and one that cannot spell its text back (<unk>) train exactly the completion', () => {
  const mistral = sftModel(withTemplate('mistral', undefined));
  const ex = [{ format: 'prompt-completion' as const, prompt: 'Question: 대한민국은?', completion: ' 민주공화국이다.' }];
  const { rows } = tokenizeExamples(ex, mistral, 64, 'x');
  // transformers: tokenizer(prompt + completion + eos_token) on the Mistral fixture, <s> first.
  assert.deepEqual(Array.from(rows[0].ids), [1, 345, 84, 322, 878, 922, 276, 1320, 565, 278, 1329, 596, 366, 674, 371, 570, 1025, 2]);
  const trained = (r: SftRow) => Array.from(r.labels).filter((l, i) => i > 0 && l !== IGNORED);
  assert.equal(mistral.tokenizer.decode(trained(rows[0])), '민주공화국이다.</s>');

  const chars = trainTokenizer('abc de', { kind: 'char' });
  const unk = tokenizeExamples(
    [{ format: 'prompt-completion', prompt: 'a?b', completion: 'cd' }],
    { tokenizer: chars, dir: 'x', eosId: 0 },
    64,
    'y',
  );
  assert.deepEqual(trained(unk.rows[0]), [...chars.encode('cd'), 0]);
});

// TRL's SFTTrainer tokenises a plain example with tokenizer(text + eos_token), special tokens added
// (its prompt/completion mask: the first len(tokenizer(prompt)) ids). transformers 5.18 on the fixtures:
const PLAIN_REFERENCE = {
  llama: {
    text: [2000, 1470, 953, 346, 1071, 910, 795, 797, 473, 358, 311, 13, 2001],
    promptCompletion: [2000, 48, 84, 528, 562, 25, 1879, 30, 1071, 910, 795, 797, 473, 358, 311, 13, 2001],
    promptIds: 8,
  },
  qwen2: {
    text: [1469, 952, 346, 1070, 909, 794, 796, 473, 358, 311, 13, 2000],
    promptCompletion: [48, 84, 528, 561, 25, 1877, 30, 1070, 909, 794, 796, 473, 358, 311, 13, 2000],
    promptIds: 7,
  },
};

test('plain examples start with the BOS the tokenizer adds (Llama 3: <|begin_of_text|>; Qwen2: none) as TRL tokenises them; a template that writes its own BOS does not get a second', () => {
  for (const [family, ref] of Object.entries(PLAIN_REFERENCE)) {
    const model = sftModel(withTemplate(family, undefined));
    const text = tokenizeExamples([{ format: 'text', text: '대한민국은 민주공화국이다.' }], model, 64, 'x').rows[0];
    assert.deepEqual(Array.from(text.ids), ref.text, family);
    assert.deepEqual(Array.from(text.labels).slice(1), ref.text.slice(1), `${family}: every token after the first is trained`);
    const ex = { format: 'prompt-completion' as const, prompt: 'Question: 대한민국은?', completion: ' 민주공화국이다.' };
    const pc = tokenizeExamples([ex], model, 64, 'x').rows[0];
    assert.deepEqual(Array.from(pc.ids), ref.promptCompletion, family);
    assert.deepEqual(
      Array.from(pc.labels),
      ref.promptCompletion.map((id, i) => (i < ref.promptIds ? IGNORED : id)),
      `${family}: the prompt's ids masked, as TRL's completion mask`,
    );
  }
  const llama = sftModel(withTemplate('llama', 'llama3.jinja'));
  const bos = PLAIN_REFERENCE.llama.text[0];
  const chat = tokenizeExamples(readSftJsonl(QA).slice(0, 1), llama, 256, 'qa').rows[0];
  assert.equal(chat.ids[0], bos);
  assert.equal(Array.from(chat.ids).filter((id) => id === bos).length, 1, 'the template writes <|begin_of_text|> once');
});

test('prompt/completion appends and trains the EOS; data with nothing to train, or conversations without a template, is refused', () => {
  const plain = sftModel(withTemplate('qwen2', undefined));
  const { rows } = tokenizeExamples([{ format: 'prompt-completion', prompt: 'Q: a? A:', completion: ' b' }], plain, 64, 'x');
  assert.equal(rows[0].labels.at(-1), plain.eosId);
  assert.equal(rows[0].ids.at(-1), plain.eosId);
  assert.throws(
    () => tokenizeExamples(readSftJsonl(QA), plain, 64, 'qa.jsonl'),
    userError(/^qa\.jsonl holds conversations .* has no chat template/),
  );

  const chat = sftModel(withTemplate('qwen2', 'chatml.jinja'));
  const empty = [
    {
      format: 'conversational' as const,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: ' ' },
      ],
    },
  ];
  assert.throws(() => tokenizeExamples(empty, chat, 64, 'e'), userError(/^e: no token would be trained: every answer .* is empty$/));
  assert.throws(
    () => tokenizeExamples(readSftJsonl(QA), chat, 8, 'qa'),
    userError(/every answer is empty or cut off by the context of 8 tokens/),
  );
  const cut = tokenizeExamples(readSftJsonl(QA), chat, 72, 'qa').counts;
  assert.ok(cut.cut > 0 && cut.cutTokens > 0, JSON.stringify(cut));
});

test('batches: one example per row, padded to the longest with ignored targets; held-out examples drawn per example; shards weigh their trained tokens', () => {
  const rows = [
    { ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(IGNORED, IGNORED, 3) },
    { ids: Int32Array.of(4, 5, 6, 7, 8), labels: Int32Array.of(IGNORED, 5, 6, 7, 8) },
  ];
  const b = exampleBatch(rows);
  assert.equal(b.width, 4);
  assert.deepEqual(Array.from(b.inputs), [1, 2, 0, 0, 4, 5, 6, 7]);
  assert.deepEqual(Array.from(b.targets), [IGNORED, 3, IGNORED, IGNORED, 5, 6, 7, 8]);
  const shards = splitBatch({ inputs: b.inputs, targets: b.targets, batch: 2, lr: 0, update: 1, gradClip: 1 }, 2);
  assert.deepEqual(
    shards.map((s) => s.lossScale),
    [1 / 5, 4 / 5],
  );
  const many = Array.from({ length: 20 }, (_, i) => ({ ids: Int32Array.of(i, i), labels: Int32Array.of(i, i) }));
  const split = splitExamples(many, 0.1, 1);
  assert.equal(split.val.length, 2);
  assert.equal(split.train.length + split.val.length, 20);
  assert.notDeepEqual(
    split.val.map((r) => r.ids[0]),
    [18, 19],
    'not the last examples',
  );
});

test('documents: each gives its own last part to the held-out split, and every part ends with the end-of-text id', () => {
  const { tokens, heldOut } = documentTokens(
    [Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), Int32Array.of(11, 12, 13, 14, 15, 16, 17, 18, 19, 20)],
    0,
    0.2,
  );
  assert.equal(heldOut, 6);
  // No training window reads from one document into the next without the separator.
  assert.deepEqual(Array.from(tokens), [1, 2, 3, 4, 5, 6, 7, 8, 0, 11, 12, 13, 14, 15, 16, 17, 18, 0, 9, 10, 0, 19, 20, 0]);
  const short = documentTokens([Int32Array.of(1, 2), Int32Array.of(3, 4, 5, 6, 7)], 0, 0.2);
  assert.deepEqual([Array.from(short.tokens), short.heldOut], [[1, 2, 0, 3, 4, 5, 6, 0, 7, 0], 2], 'nothing held out of a short one');
});

// transformers' loss on the qwen2 fixture with these labels (test/reference/masked_loss.py):
// AutoModelForCausalLM(input_ids=ids, labels=labels).loss in float32.
const MASKED_LOSS = 9.048291206359863;
for (const engine of ['wasm', 'native'] as const)
  test(
    `masked loss on ${engine}: targets of -100 add nothing, the mean is over trained tokens (transformers' loss)`,
    {
      skip: engine === 'native' && 'why' in loadAddon() ? 'native engine not built' : false,
    },
    async () => {
      await startEngine(engine);
      const m = readModelFolder(join(FIXTURES, 'hf-llama/qwen2'));
      const ids = (JSON.parse(readFileSync(join(FIXTURES, 'hf-llama/qwen2/reference.json'), 'utf8')) as { ids: number[] }).ids;
      const labels = ids.map((t, i) => (i < 20 || (i >= 30 && i < 35) ? IGNORED : t));
      const model = Gpt.fromWeights(m.config, m.weights);
      const n = ids.length - 1;
      const x = tf.tensor2d(ids.slice(0, n), [1, n], 'int32');
      const y = tf.tensor2d(labels.slice(1), [1, n], 'int32');
      const loss = (await model.loss(x, y).data())[0];
      assert.ok(Math.abs(loss - MASKED_LOSS) / MASKED_LOSS < 1e-4, `${loss} vs transformers ${MASKED_LOSS}`);
      // Gradients: an ignored target's logits get none.
      const logits = tf.randomNormal([4, 7], 0, 1, 'float32', 3) as tf.Tensor2D;
      const { crossEntropy } = await import('../../src/worker/model/ops');
      const g = tf.grad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, tf.tensor1d([2, IGNORED, 5, IGNORED], 'int32')))(logits);
      const rows = (await g.array()) as number[][];
      assert.ok(
        rows[1].every((v) => v === 0),
        'no gradient for an ignored target',
      );
      assert.ok(Math.abs(rows[0].reduce((a, b) => a + b, 0)) < 1e-6, "a trained row's gradient sums to zero");
      const full = tf.grad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, tf.tensor1d([2, 5], 'int32')))(tf.gather(logits, [0, 2]));
      assert.ok(Math.max(...(await tf.abs(tf.sub(full, tf.gather(g, [0, 2]))).data())) < 1e-6, 'the mean is over the two trained rows');
      model.dispose();
      tf.dispose([x, y, logits, g, full]);
    },
  );

test('corpus-lab finetune BASE QA.jsonl: shows the first example with trained tokens marked and the counts, then trains on them', () => {
  const dir = withTemplate('qwen2', 'chatml.jinja');
  const cwd = tempDir();
  const r = runCli(
    ['finetune', dir, QA, '-o', join(cwd, 'run'), '--max-steps', '2', '--batch', '4', '--context', '128', '--json'],
    cwd,
    300_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  const data = events.find((e) => e.type === 'data');
  const start = events.findIndex((e) => e.type === 'start');
  assert.ok(events.indexOf(data) < start, 'shown before training starts');
  assert.equal(data.format, 'conversational');
  assert.equal(data.counts.examples + data.counts.dropped, 100);
  assert.equal(data.held_out, 10);
  assert.ok(data.counts.trained > 0 && data.counts.masked > data.counts.trained);
  assert.equal(data.first.ids.length, data.first.trained.length);
  assert.ok(data.first.parts.some((p: { trained: boolean; text: string }) => p.trained && p.text.endsWith('<|im_end|>\n')));
  assert.equal(events.at(-1).type, 'done');
  assert.equal(events.find((e) => e.type === 'start').plan.examples, 90);

  // 30 steps on the answers alone lower the held-out answers' loss well below the base's.
  const learn = runCli(
    ['finetune', dir, QA, '-o', join(cwd, 'learn'), '--max-steps', '30', '--lr', '3e-3', '--context', '128', '--json'],
    cwd,
    300_000,
  );
  assert.equal(learn.code, 0, learn.stderr);
  const learned = jsonLines(learn.stdout);
  const before = learned.find((e) => e.type === 'start').baselines.init_val_loss;
  const after = learned.at(-1).val_loss;
  assert.ok(after < before - 1, `held-out answer loss ${before} → ${after}`);

  // The checkpoint keeps the base's chat template: it renders conversations, and fine-tunes on them again.
  const checkpoint = events.find((e) => e.type === 'checkpoint').path;
  assert.equal(readFileSync(join(checkpoint, 'chat_template.jinja'), 'utf8'), readFileSync(join(FIXTURES, 'sft', 'chatml.jinja'), 'utf8'));
  const again = runCli(['finetune', checkpoint, QA, '-o', join(cwd, 'again'), '--max-steps', '1', '--context', '128'], cwd, 300_000);
  assert.equal(again.code, 0, again.stderr);

  // `train DATA --resume CHECKPOINT` reads the examples as the run did and continues it.
  const resumed = runCli(['train', QA, '--resume', checkpoint, '--max-steps', '3', '--json'], cwd, 300_000);
  assert.equal(resumed.code, 0, resumed.stderr);
  const resumedEvents = jsonLines(resumed.stdout);
  assert.equal(resumedEvents.find((e) => e.type === 'start').plan.examples, 90);
  assert.deepEqual(
    resumedEvents.filter((e) => e.type === 'step').map((e) => e.step),
    [3],
  );
  assertCliUserError(
    ['train', otherData(cwd), '--resume', checkpoint, '--max-steps', '4'],
    cwd,
    /is not the text this fine-tuning run was trained on/,
  );

  const human = runCli(['finetune', dir, QA, '-o', join(cwd, 'run2'), '--max-steps', '1', '--context', '128'], cwd, 300_000);
  assert.equal(human.code, 0, human.stderr);
  assert.match(
    human.stderr,
    /data \(conversational\): 100 examples \(10 held out\), \d+ trained tokens, \d+ masked, \d+ cut to the context/,
  );
  assert.match(human.stderr, /⟦<\|im_start\|>system\n[^⟧]*<\|im_start\|>assistant\n⟧제\d+조: /);

  assertCliUserError(['finetune', withTemplate('qwen2', undefined), QA, '-o', join(cwd, 'run3')], cwd, /has no chat template/);
  const mixed = join(cwd, 'mixed.jsonl');
  writeFileSync(mixed, '{"text": "a"}\n{"prompt": "b", "completion": "c"}\n');
  assertCliUserError(['finetune', dir, mixed, '-o', join(cwd, 'run4')], cwd, /mixed\.jsonl line 2 is in the format/);
});

/** The Q&A file less its last pair: other data than the run's. */
function otherData(cwd: string): string {
  const path = join(cwd, 'fewer.jsonl');
  writeFileSync(path, readFileSync(QA, 'utf8').trimEnd().split('\n').slice(0, -1).join('\n') + '\n');
  return path;
}

test('corpus-lab finetune BASE FOLDER: .txt and .md documents as one corpus, separated by the end-of-text token', () => {
  const dir = withTemplate('qwen2', undefined);
  const cwd = tempDir();
  const docs = join(cwd, 'docs');
  mkdirSync(join(docs, 'sub'), { recursive: true });
  const text = readFileSync(join(REPO, 'media/samples/constitution-ko.txt'), 'utf8');
  writeFileSync(join(docs, 'a.txt'), text.slice(0, 6000));
  writeFileSync(join(docs, 'sub', 'b.md'), text.slice(6000, 12000));
  writeFileSync(join(docs, 'ignored.json'), '{}');
  writeFileSync(join(docs, 'empty.txt'), '');
  mkdirSync(join(docs, '.git'));
  writeFileSync(join(docs, '.git', 'hidden.txt'), 'not a document');
  const r = runCli(['finetune', dir, docs, '-o', join(cwd, 'run'), '--max-steps', '1', '--context', '32', '--json'], cwd, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  const start = events.find((e) => e.type === 'start');
  const m = readModelFolder(dir);
  const a = m.tokenizer.encode(text.slice(0, 6000)).length;
  const b = m.tokenizer.encode(text.slice(6000, 12000)).length;
  // Each document's training part and held-out part end with <|endoftext|>.
  assert.equal(start.plan.trainTokens + start.plan.valTokens, a + b + 4);
  assert.equal(start.plan.valTokens, Math.round(a * 0.1) + Math.round(b * 0.1) + 2);

  // Before training: a training window across the first document's end, all trained, the separator a run of its own.
  const data = events.find((e) => e.type === 'data');
  assert.ok(events.indexOf(data) < events.indexOf(start), 'shown before training starts');
  const eos = endOfTextId(dir, m.tokenizer)!;
  const trainPart = a - Math.round(a * 0.1);
  assert.deepEqual(
    { documents: data.documents, train: data.train_tokens, held: data.held_out_tokens, length: data.first.ids.length },
    { documents: 2, train: start.plan.trainTokens, held: start.plan.valTokens, length: 33 },
  );
  assert.equal(data.window_start, trainPart - 24, 'the end of the first document three quarters of the way in');
  assert.equal(data.first.ids[24], eos);
  assert.deepEqual(
    data.first.trained,
    data.first.ids.map((_: number, i: number) => i > 0),
  );
  const parts = data.first.parts as { text: string; trained: boolean; separator?: boolean }[];
  assert.deepEqual(
    parts.filter((p) => p.separator),
    [{ text: '<|endoftext|>', trained: true, separator: true }],
  );
  assert.equal(parts.map((p) => p.text).join(''), m.tokenizer.decode(data.first.ids));
  const shown = runCli(['finetune', dir, docs, '-o', join(cwd, 'shown'), '--max-steps', '1', '--context', '32'], cwd, 300_000);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stderr, /data \(documents\): 2 documents, \d+ tokens trained and \d+ held out/);
  assert.match(shown.stderr, /a training window \(from token \d+\) as the model sees it.*:\n[\s\S]*<\|endoftext\|>/);
  assertCliUserError(['finetune', dir, join(docs, 'sub', 'nothing'), '-o', join(cwd, 'r2')], cwd, /no such file/);
  const checkpoint = jsonLines(r.stdout).find((e) => e.type === 'checkpoint').path;
  const resumed = runCli(['train', docs, '--resume', checkpoint, '--max-steps', '2', '--json'], cwd, 300_000);
  assert.equal(resumed.code, 0, resumed.stderr);
});

test('estimate of fine-tuning on a .jsonl plans its examples as finetune does (3 epochs of 90 training examples), and on a folder its documents', async () => {
  const dir = withTemplate('qwen2', 'chatml.jinja');
  const e = await runEstimateJob({ corpusPath: QA, finetune: { basePath: dir }, measureSteps: 0, backend: 'wasm' });
  assert.equal(e.totalSteps, 3 * Math.ceil(90 / 4));
  const docs = tempDir();
  writeFileSync(join(docs, 'a.md'), readFileSync(join(REPO, 'media/samples/constitution-ko.txt'), 'utf8').slice(0, 4000));
  const d = await runEstimateJob({ corpusPath: docs, finetune: { basePath: dir }, context: 32, measureSteps: 0, backend: 'wasm' });
  assert.equal(d.tokens, readModelFolder(dir).tokenizer.encode(readFileSync(join(docs, 'a.md'), 'utf8')).length + 2);
});
