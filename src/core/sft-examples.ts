import { UserError } from './errors';
import { ChatTemplate, renderChat } from './chat-template';
import { ChatMessage, FORMAT_KEYS, SftExample, SftFormat, isConversational } from './sft-data';
import { Tokenizer } from './tokenizer';

/** TRL's label for a token the loss leaves out (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORED = -100;

/** One example as the model sees it: token ids and, per id, itself when it is trained, else IGNORED. */
export interface SftRow {
  ids: Int32Array;
  labels: Int32Array;
}

export interface SftCounts {
  examples: number;
  /** Tokens whose prediction is trained (a row's first token is predicted by nothing). */
  trained: number;
  /** Tokens the model reads but is not trained to predict (prompts, user and system turns). */
  masked: number;
  /** Examples longer than the context, cut to it, and the tokens cut off. */
  cut: number;
  cutTokens: number;
  /** Examples left out because nothing in them would be trained (empty answers, answers cut off). */
  dropped: number;
}

/** What the data needs of the model: its chat template (conversations) and end-of-text id (plain text). */
export interface SftModel {
  tokenizer: Tokenizer;
  chat?: ChatTemplate;
  eosId?: number;
  /** Where the model came from, for the messages. */
  dir: string;
}

/**
 * Tokenises examples into rows of at most context + 1 tokens with the loss only on what the model
 * should learn: a text whole, a completion, an assistant's turns — each with its end-of-turn
 * (the template's own, e.g. <|im_end|>) or the EOS appended to plain text. The answer spans are
 * found as TRL finds them without {% generation %} tags: the conversation up to a turn, rendered
 * with the generation prompt, is a prefix of the conversation with the turn. The whole rendered
 * text is tokenised at once (so a BPE merging across a span's edge gives the ids the model will
 * see at inference), and a token is trained when its bytes overlap an answer span.
 */
export function tokenizeExamples(
  examples: SftExample[],
  model: SftModel,
  context: number,
  source: string,
): { rows: SftRow[]; counts: SftCounts } {
  const rowsOf = new ExampleTokenizer(model, context, source);
  const rows: SftRow[] = [];
  examples.forEach((example, i) => {
    const row = rowsOf.row(example, i + 1);
    if (row) rows.push(row);
  });
  rowsOf.end();
  return { rows, counts: rowsOf.counts };
}

/** tokenizeExamples one example at a time (a file streamed line by line): row(), then end() once all are seen. */
export class ExampleTokenizer {
  readonly counts: SftCounts = { examples: 0, trained: 0, masked: 0, cut: 0, cutTokens: 0, dropped: 0 };
  private seen = 0;
  private emptyAnswers = 0;
  private readonly around: { before: number[]; after: number[] };

  constructor(
    private readonly model: SftModel,
    private readonly context: number,
    private readonly source: string,
  ) {
    this.around = model.tokenizer.specialTokensAround();
  }

  /** The example at `line` as a row, or undefined when nothing in it would be trained (counted as dropped). */
  row(example: SftExample, line: number): SftRow | undefined {
    const { model, context, source, counts, around } = this;
    if (this.seen++ === 0) checkModelReads(example.format, model, source);
    const { text, spans, plain } = rendered(example, model.chat, line, source);
    if (spans.every(([a, b]) => text.slice(a, b).trim() === '')) {
      this.emptyAnswers++;
      counts.dropped++;
      return undefined;
    }
    let { ids, labels } = labelled(text, spans, model.tokenizer);
    if (plain) {
      const eos = model.eosId === undefined ? [] : [model.eosId];
      ids = [...around.before, ...ids, ...eos, ...around.after];
      labels = [...around.before.map(() => IGNORED), ...labels, ...eos, ...around.after];
    }
    if (ids.length > context + 1) {
      counts.cut++;
      counts.cutTokens += ids.length - (context + 1);
      ids = ids.slice(0, context + 1);
      labels = labels.slice(0, context + 1);
    }
    const trained = labels.slice(1).filter((l) => l !== IGNORED).length;
    if (trained === 0) {
      counts.dropped++;
      return undefined;
    }
    counts.examples++;
    counts.trained += trained;
    counts.masked += ids.length - 1 - trained;
    return { ids: Int32Array.from(ids), labels: Int32Array.from(labels) };
  }

  /** Refuses data in which no token would be trained. */
  end(): void {
    const { counts, source } = this;
    if (counts.examples > 0) return;
    if (this.emptyAnswers === this.seen)
      throw new UserError('{0}: no token would be trained: every answer (completion or assistant turn) is empty', source);
    throw new UserError(
      '{0}: no token would be trained: every answer is empty or cut off by the context of {1} tokens; raise --context or shorten the prompts',
      source,
      this.context,
    );
  }
}

/** Refuses examples of a format the model cannot learn from (no chat template, no end-of-text token). */
function checkModelReads(format: SftFormat, model: SftModel, source: string): void {
  if (isConversational(format) && !model.chat)
    throw new UserError(
      '{0} holds conversations ({1}), but {2} has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json): add the template the model was trained with, or write the data as {3}',
      source,
      FORMAT_KEYS[format],
      model.dir,
      FORMAT_KEYS['prompt-completion'],
    );
  if (format === 'prompt-completion' && model.eosId === undefined)
    throw new UserError(
      '{0}: the model in {1} has no end-of-text token, so it could not learn where a completion ends: use a model whose tokenizer has one (eos_token in tokenizer_config.json)',
      source,
      model.dir,
    );
}

interface Rendered {
  text: string;
  /** Character ranges of `text` that are trained. */
  spans: [number, number][];
  /**
   * Plain text, not a rendered chat: as TRL does, the EOS is appended and the text tokenised with
   * the tokenizer's special tokens (its BOS, if the post-processor adds one). A chat template
   * writes its own, and its text is tokenised without them.
   */
  plain: boolean;
}

function rendered(example: SftExample, chat: ChatTemplate | undefined, line: number, source: string): Rendered {
  switch (example.format) {
    case 'text':
      return { text: example.text, spans: [[0, example.text.length]], plain: true };
    case 'prompt-completion':
      return {
        text: example.prompt + example.completion,
        spans: [[example.prompt.length, example.prompt.length + example.completion.length]],
        plain: true,
      };
    case 'conversational-prompt-completion': {
      const prompt = renderChat(chat!, example.prompt, true);
      const text = renderChat(chat!, [...example.prompt, ...example.completion], false);
      checkPrefix(prompt, text, chat!, line, source);
      return { text, spans: [[prompt.length, text.length]], plain: false };
    }
    case 'conversational':
      return conversation(example.messages, chat!, line, source);
  }
}

function conversation(messages: ChatMessage[], chat: ChatTemplate, line: number, source: string): Rendered {
  const text = renderChat(chat, messages, false);
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = renderChat(chat, messages.slice(0, i), true);
    const through = renderChat(chat, messages.slice(0, i + 1), false);
    checkPrefix(before, through, chat, line, source);
    checkPrefix(through, text, chat, line, source);
    // An empty answer still ends its turn, but learning to answer nothing is not what the user meant.
    if (m.content.trim() !== '') spans.push([before.length, through.length]);
  });
  if (spans.length === 0 && !messages.some((m) => m.role === 'assistant'))
    throw new UserError('{0} line {1}: the conversation has no "assistant" message, so nothing in it would be trained', source, line);
  return { text, spans: spans.length ? spans : [[0, 0]], plain: false };
}

function checkPrefix(prefix: string, whole: string, chat: ChatTemplate, line: number, source: string): void {
  if (!whole.startsWith(prefix))
    throw new UserError(
      "{0} line {1}: {2} renders the conversation's beginning differently from the whole conversation, so the answers cannot be told apart from the prompt",
      source,
      line,
      chat.source,
    );
}

/**
 * The ids of the whole text and their labels: a token is trained when its bytes overlap a span.
 * A tokenizer that does not spell its text back (an <unk>, a normaliser) is tokenised a piece at a
 * time between the spans' edges instead: exact labels, though ids at an edge may differ.
 */
function labelled(text: string, spans: [number, number][], tokenizer: Tokenizer): { ids: number[]; labels: number[] } {
  const ids = tokenizer.encode(text);
  const ends = byteEnds(ids, tokenizer, text);
  if (!ends) return piecewise(text, spans, tokenizer);
  const byteSpans = spans.map(([a, b]) => [Buffer.byteLength(text.slice(0, a)), Buffer.byteLength(text.slice(0, b))]);
  const labels = ids.map((id, k) => {
    const start = k === 0 ? 0 : ends[k - 1];
    return byteSpans.some(([a, b]) => start < b && ends[k] > a) ? id : IGNORED;
  });
  return { ids, labels };
}

/** Where each token ends in the text's UTF-8 bytes, when the tokens spell exactly the text (after the space SentencePiece-style tokenizers prepend). */
function byteEnds(ids: number[], tokenizer: Tokenizer, text: string): number[] | undefined {
  const want = Buffer.from(text);
  let spelled = 0;
  for (const id of ids) spelled += tokenizer.tokenBytes(id).length;
  const shift = spelled - want.length;
  if (shift !== 0 && !(shift === 1 && tokenizer.tokenBytes(ids[0])[0] === 0x20)) return undefined;
  const ends: number[] = new Array(ids.length);
  let at = -shift;
  for (let k = 0; k < ids.length; k++) {
    const piece = tokenizer.tokenBytes(ids[k]);
    // The prepended space is the first token's first byte; every other byte must be the text's.
    for (let b = k === 0 ? shift : 0; b < piece.length; b++) if (piece[b] !== want[at + b]) return undefined;
    ends[k] = at += piece.length;
  }
  return ends;
}

function piecewise(text: string, spans: [number, number][], tokenizer: Tokenizer): { ids: number[]; labels: number[] } {
  const cuts = [...new Set([0, ...spans.flat(), text.length])].sort((a, b) => a - b);
  const ids: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [a, b] = [cuts[i], cuts[i + 1]];
    const trained = spans.some(([s, e]) => s <= a && b <= e);
    for (const id of tokenizer.encode(text.slice(a, b))) {
      ids.push(id);
      labels.push(trained ? id : IGNORED);
    }
  }
  return { ids, labels };
}
