import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tf, startEngine, BackendChoice } from '../engine/backend';
import { Gpt } from '../model/gpt';
import { fillWindows, evalWindowStarts } from '../../core/batches';
import { resolveCheckpoint } from '../../core/checkpoint';
import { readCorpus } from '../../core/corpus';
import { runTokens } from '../../core/export-torch/token-files';
import { UserError } from '../../core/errors';
import { readRunJson } from '../../core/run-json';
import { Tokenizer } from '../../core/tokenizer';
import { ModelFiles, readModelFolder } from '../../core/model-folder';
import { Int8Scheme, INT8_WEIGHTS_FILE } from '../../core/int8';
import { int8FolderFiles } from '../../core/export-folder';
import { keptTokenizerFiles } from '../../core/hf-export';
import { checkOutputPath } from '../../core/output-path';
import { encodeSafetensors } from '../../core/safetensors';
import { writeDirAtomic } from '../../core/atomic-write';

export interface QuantizeRequest {
  checkpoint: string;
  out: string;
  scheme: Int8Scheme;
  /** Evaluate on this file instead of the run's held-out text (needed outside a run). */
  textFile?: string;
  /** The base of an adapter that does not record it (readModelFolder). */
  base?: string;
  backend?: BackendChoice;
}

export interface QuantizeReport {
  checkpoint: string;
  out: string;
  scheme: Int8Scheme;
  /** Size of the fp32 weights as a safetensors file, and of the int8 one. */
  bytes_fp32: number;
  bytes_int8: number;
  size_ratio: number;
  /** Mean next-token cross-entropy (nats per token) over the evaluation text. */
  loss_fp32: number;
  loss_int8: number;
  /** (loss_int8 − loss_fp32) in bits per character of the evaluation text. */
  delta_bits_per_char: number;
  /** Share of positions where both models' most likely next token is the same. */
  top1_agreement: number;
  /** Mean KL(fp32 ‖ int8) of the next-token distributions, nats. */
  kl: number;
  tokens: number;
  characters: number;
  eval_text: string;
  /** Reading the folder and building the model, ms; then the evaluation's forward passes, ms. */
  load_ms_fp32: number;
  load_ms_int8: number;
  forward_ms_fp32: number;
  forward_ms_int8: number;
}

/** Most windows evaluated (all of tinyshakespeare's held-out tenth at context 64 fits). */
const MAX_WINDOWS = 2048;
const BATCH = 16;

/**
 * The text a checkpoint was not trained on: a file the user names, or the start of its run's held-out
 * part (as many tokens as the evaluation reads), from the ids the run trained from (prepared, never
 * read whole: a folder of documents laid out as the run laid it out).
 */
function evaluationTokens(dir: string, model: ModelFiles, tokenizer: Tokenizer, textFile?: string): { tokens: Int32Array; source: string } {
  if (textFile !== undefined) return { tokens: tokenizer.encodeAll(readCorpus(textFile).text), source: textFile };
  const runDir = dirname(dirname(dir));
  if ((model.kind !== 'checkpoint' && model.kind !== 'adapter') || !existsSync(join(runDir, 'run.json'))) {
    throw new UserError('{0} is not a checkpoint inside a run, so it has no held-out text: pass --text FILE to measure on', dir);
  }
  const run = readRunJson(runDir);
  if (run.plan.examples !== undefined)
    throw new UserError(
      '{0} was trained on examples one per row, not on a text to hold a part of out: pass --text FILE to measure on',
      dir,
    );
  const stream = runTokens(run, tokenizer, run.finetune?.base ?? dir);
  if (!stream) {
    throw new UserError(
      '{0} changed since the run trained on it, so its held-out part is unknown: pass --text FILE to measure on',
      run.corpus.path,
    );
  }
  try {
    const { trainTokens, valTokens } = run.plan;
    const read = Math.min(valTokens, MAX_WINDOWS * model.config.context + 1);
    return {
      tokens: stream.tokens.view(trainTokens, trainTokens + read).slice(),
      source: `${run.corpus.path} (held-out ${valTokens} tokens)`,
    };
  } finally {
    stream.close();
  }
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, performance.now() - t0];
}

/** `quantize`: writes an int8 checkpoint and measures it against the fp32 model it came from. */
export async function runQuantizeJob(req: QuantizeRequest): Promise<QuantizeReport> {
  const dir = resolveCheckpoint(req.checkpoint);
  const target = checkOutputPath(req.out, 'new-folder');
  const fp32Files = readModelFolder(dir, req.base);
  if (fp32Files.kind === 'int8') throw new UserError('{0} is already an int8 checkpoint', dir);
  const tokenizer = fp32Files.tokenizer;
  const { tokens, source } = evaluationTokens(dir, fp32Files, tokenizer, req.textFile);
  const context = fp32Files.config.context;
  if (tokens.length < 2) throw new UserError('the evaluation text has {0} token: it needs at least 2', tokens.length);

  const files = {
    ...int8FolderFiles(
      { config: fp32Files.config, weights: fp32Files.weights, tokenizerJson: fp32Files.tokenizerJson, tokenizerKind: tokenizer.kind },
      req.scheme,
    ),
    // Its special tokens and chat template as the model had them (an adapter's: its base's).
    ...keptTokenizerFiles(fp32Files.base?.dir ?? fp32Files.dir),
  };
  writeDirAtomic(target, files);
  const bytesFp32 = encodeSafetensors(fp32Files.weights, { format: 'pt' }).length;
  const bytesInt8 = statSync(join(target, INT8_WEIGHTS_FILE)).size;

  await startEngine(req.backend ?? 'auto');
  // Both models as eval/generate load them: read from their folders (int8: the one just written).
  tf.dispose(tf.tidy(() => tf.add(tf.ones([8]), 1))); // backend warm-up outside the timings
  const [model32, load32] = timed(() => {
    const f = readModelFolder(dir, req.base);
    return Gpt.fromWeights(f.config, f.weights);
  });
  const [model8, load8] = timed(() => {
    const f = readModelFolder(target);
    return Gpt.fromWeights(f.config, f.weights);
  });
  try {
    const window = Math.min(context, tokens.length - 1);
    const starts = evalWindowStarts(tokens.length, window, MAX_WINDOWS);
    let ce32 = 0;
    let ce8 = 0;
    let kl = 0;
    let agree = 0;
    let n = 0;
    let ms32 = 0;
    let ms8 = 0;
    // One untimed pass each first: the first call of a shape compiles and allocates.
    for (const m of [model32, model8]) {
      const warm = tf.tidy(() => m.forward(tf.zeros([Math.min(BATCH, starts.length), window], 'int32') as tf.Tensor2D));
      await warm.data();
      warm.dispose();
    }
    for (let i = 0; i < starts.length; i += BATCH) {
      const group = starts.slice(i, i + BATCH);
      const inputs = new Int32Array(group.length * window);
      const targets = new Int32Array(group.length * window);
      fillWindows(tokens, group, window, inputs, targets);
      const ids = tf.tensor2d(inputs, [group.length, window], 'int32');
      // Alternating which model runs first, so neither gains from the other's warm caches.
      const run = async (m: Gpt) => {
        const t0 = performance.now();
        const l = tf.tidy(() => m.forward(ids));
        await l.data();
        return [l, performance.now() - t0] as const;
      };
      let r32: Awaited<ReturnType<typeof run>>;
      let r8: Awaited<ReturnType<typeof run>>;
      if ((i / BATCH) % 2 === 0) {
        r32 = await run(model32);
        r8 = await run(model8);
      } else {
        r8 = await run(model8);
        r32 = await run(model32);
      }
      const [l32, l8] = [r32[0], r8[0]];
      ms32 += r32[1];
      ms8 += r8[1];
      const sums = tf.tidy(() => {
        const lp32 = tf.logSoftmax(l32);
        const lp8 = tf.logSoftmax(l8);
        const hot = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), fp32Files.config.vocabSize), 'float32');
        return tf.stack([
          tf.neg(tf.sum(tf.mul(lp32, hot))),
          tf.neg(tf.sum(tf.mul(lp8, hot))),
          tf.sum(tf.mul(tf.exp(lp32), tf.sub(lp32, lp8))),
          tf.sum(tf.cast(tf.equal(tf.argMax(l32, 1), tf.argMax(l8, 1)), 'float32')),
        ]);
      });
      const [a, b, c, d] = await sums.data();
      tf.dispose([ids, l32, l8, sums]);
      ce32 += a;
      ce8 += b;
      kl += c;
      agree += d;
      n += group.length * window;
    }
    const evaluated = tokens.subarray(starts[0], starts[starts.length - 1] + window + 1);
    const characters = [...tokenizer.decode(Array.from(evaluated.subarray(1)))].length;
    const loss32 = ce32 / n;
    const loss8 = ce8 / n;
    return {
      checkpoint: dir,
      out: target,
      scheme: req.scheme,
      bytes_fp32: bytesFp32,
      bytes_int8: bytesInt8,
      size_ratio: bytesInt8 / bytesFp32,
      loss_fp32: loss32,
      loss_int8: loss8,
      delta_bits_per_char: ((loss8 - loss32) * n) / characters / Math.LN2,
      top1_agreement: agree / n,
      // KL is never negative; summed in float32, two nearly equal distributions can give -1e-9.
      kl: Math.max(0, kl / n),
      tokens: n,
      characters,
      eval_text: source,
      load_ms_fp32: load32,
      load_ms_int8: load8,
      forward_ms_fp32: ms32,
      forward_ms_int8: ms8,
    };
  } finally {
    model32.dispose();
    model8.dispose();
  }
}
