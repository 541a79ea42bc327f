import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { UserError, isUserError } from '../errors';
import { PrepareOptions, PreparedCorpus, prepareSteps } from '../prepared/prepare-corpus';
import { Steps, runSteps } from '../prepared/steps';
import { TokenDtype, TokenFile, TokenReader, tokenChunks, tokenRange } from '../prepared/token-file';
import { cleanOptionsOf } from '../clean';
import { Tokenizer } from '../tokenizer';
import type { RunJson } from '../run-json';
import { endOfTextId } from '../finetune-data';
import { endOfText } from '../hf-export';
import { documentLayout } from '../prepared/document-layout';

type RunTokens = { tokens: TokenReader; close(): void };
type BaseRunTokens = { tokens: TokenReader; trainTokens: number; close(): void } | { why: string };

/**
 * The token stream a run (text, documents) trained on: its prepared ids (prepared now, streamed, if
 * they are not), laid out as the run laid them out (a folder's documents held out per document, each
 * part closed by the run's end-of-text id) and checked to be the run's; undefined when its corpus
 * has changed since. `baseDir`: a fine-tune's base (its end-of-text id). Close it when done.
 */
export function runTokens(run: RunJson, tokenizer: Tokenizer, baseDir: string): RunTokens | undefined {
  return runSteps(runTokensSteps(run, tokenizer, baseDir, {}));
}

/** runTokens as steps: `preparing` shows the preparation's progress and may cancel it. */
function* runTokensSteps(run: RunJson, tokenizer: Tokenizer, baseDir: string, preparing: PrepareOptions): Steps<RunTokens | undefined> {
  const prepared = yield* preparedTextIfUnchanged(run.corpus, tokenizer, preparing);
  if (!prepared) return undefined;
  const close = () => prepared.tokens.close();
  try {
    const { trainTokens, valTokens, options } = run.plan;
    const eosId = run.finetune ? endOfTextId(baseDir, tokenizer) : endOfText(tokenizer.toJSON())?.id;
    const { tokens, heldOut } =
      prepared.layout === 'text'
        ? { tokens: prepared.tokens, heldOut: valTokens }
        : documentLayout(prepared.tokens, prepared.meta.documents, eosId, options.valFraction);
    if (tokens.length !== trainTokens + valTokens || heldOut !== valTokens)
      throw new UserError(
        "{0} no longer prepares to the run's {1} training tokens: it is not this run's data",
        run.corpus.path,
        trainTokens,
      );
    return { tokens, close };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * A fine-tune's base run's token stream (its training part, then its held-out part, as that run
 * split them), for replay and the forgetting meter; or why there is none. Close it when done.
 */
export function baseRunTokens(baseRun: { dir: string; run: RunJson } | undefined, tokenizer: Tokenizer): BaseRunTokens {
  return runSteps(baseRunTokensSteps(baseRun, tokenizer, {}));
}

/** baseRunTokens as steps (the worker runs them between its messages): `preparing` shows the base text's preparation and may cancel it. */
export function* baseRunTokensSteps(
  baseRun: { dir: string; run: RunJson } | undefined,
  tokenizer: Tokenizer,
  preparing: PrepareOptions,
): Steps<BaseRunTokens> {
  if (!baseRun) return { why: 'the base is not a checkpoint of a Corpus Lab run, so its own text is unknown' };
  const { run } = baseRun;
  if (run.plan.examples !== undefined) return { why: 'the base run trained on examples, one per row, with no text to replay' };
  if (!existsSync(run.corpus.path)) return { why: `the base run's corpus ${run.corpus.path} is no longer there` };
  try {
    const stream = yield* runTokensSteps(run, tokenizer, run.finetune?.base ?? baseRun.dir, preparing);
    if (!stream) return { why: `the base run's corpus ${run.corpus.path} has changed since that run (sha256 differs)` };
    return { ...stream, trainTokens: run.plan.trainTokens };
  } catch (e) {
    if (isUserError(e)) return { why: e.message };
    throw e;
  }
}

/** The prepared ids of a corpus a run recorded (prepared now if they are not yet), or undefined when it is no longer the one recorded; close its tokens when done. */
function* preparedTextIfUnchanged(
  corpus: { path: string; sha256?: string; clean?: readonly string[] },
  tokenizer: Tokenizer,
  preparing: PrepareOptions,
): Steps<PreparedCorpus | undefined> {
  // Cleaned as the run cleaned it, when it did (run.json's corpus.clean).
  const prepared = yield* prepareSteps(corpus.path, tokenizer, { ...preparing, clean: cleanOptionsOf(corpus.clean) });
  if (prepared.meta.source.sha256 === corpus.sha256) return prepared;
  prepared.tokens.close();
  return undefined;
}

/**
 * Writes ids [start, end) into `file` as nanoGPT's train.bin stores them (little-endian `dtype`),
 * a chunk at a time (prepared ids of that dtype are copied as stored), never held whole; fsynced.
 * Returns the file's sha256.
 */
export function writeTokenRange(ids: TokenReader, dtype: TokenDtype, start: number, end: number, file: string): string {
  if (ids instanceof TokenFile && ids.dtype === dtype) return ids.copyRange(start, end, file);
  const hash = createHash('sha256');
  const fd = openSync(file, 'wx');
  try {
    for (const chunk of tokenChunks(tokenRange(ids, start, end))) {
      const typed = dtype === 'uint16' ? Uint16Array.from(chunk) : Uint32Array.from(chunk);
      const bytes = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
      hash.update(bytes);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
