import { readCorpus } from './corpus';
import { UserError } from './errors';
import { JsonObject, isObject } from './json';

/**
 * Fine-tuning data in JSON Lines, in the formats TRL's SFTTrainer reads
 * (https://huggingface.co/docs/trl/dataset_formats): one example per line, one format per file.
 */
export interface ChatMessage {
  role: string;
  content: string;
}

export type SftExample =
  | { format: 'text'; text: string }
  | { format: 'prompt-completion'; prompt: string; completion: string }
  | { format: 'conversational'; messages: ChatMessage[] }
  | { format: 'conversational-prompt-completion'; prompt: ChatMessage[]; completion: ChatMessage[] };

export type SftFormat = SftExample['format'];

/** The keys of each format, as a user would write them (for messages). */
export const FORMAT_KEYS: Record<SftFormat, string> = {
  text: '{"text"}',
  'prompt-completion': '{"prompt", "completion"} (strings)',
  conversational: '{"messages": [{"role", "content"}…]}',
  'conversational-prompt-completion': '{"prompt", "completion"} (message lists)',
};

/** Reads a .jsonl file (bounded as a corpus is: size, UTF-8, not binary) into its examples. */
export function readSftJsonl(path: string): SftExample[] {
  return parseSftJsonl(readCorpus(path).text, path);
}

/** The examples of a JSON Lines text; every bad line is a one-line UserError naming it. */
export function parseSftJsonl(text: string, source: string): SftExample[] {
  const lines = new SftLines(source);
  const examples: SftExample[] = [];
  text.split('\n').forEach((line, i) => {
    const example = lines.parse(line, i + 1);
    if (example) examples.push(example);
  });
  lines.end();
  return examples;
}

/** Reads a JSON Lines file's lines one at a time (in memory or streamed): each example, one format per file. */
export class SftLines {
  private first: { format: SftFormat; line: number } | undefined;
  count = 0;

  constructor(private readonly source: string) {}

  /** Line `at` (from 1) as an example, or undefined when it is blank. */
  parse(text: string, at: number): SftExample | undefined {
    const { source, first } = this;
    const line = text.trim();
    if (line === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new UserError('{0} line {1} is not JSON ({2}): each line must be one JSON object', source, at, (e as Error).message);
    }
    if (!isObject(value))
      throw new UserError('{0} line {1} is not a JSON object: each line must be one object such as {"text": "…"}', source, at);
    const example = exampleOf(value, source, at);
    if (first && first.format !== example.format)
      throw new UserError(
        '{0} line {1} is in the format {2}, but line {3} is {4}: one format per file',
        source,
        at,
        FORMAT_KEYS[example.format],
        first.line,
        FORMAT_KEYS[first.format],
      );
    this.first ??= { format: example.format, line: at };
    this.count++;
    return example;
  }

  /** Refuses a file without examples. */
  end(): void {
    if (this.count === 0) throw new UserError('{0} has no examples: write one JSON object per line', this.source);
  }
}

function exampleOf(o: JsonObject, source: string, line: number): SftExample {
  if ('messages' in o) return { format: 'conversational', messages: messagesOf(o.messages, 'messages', source, line) };
  if ('prompt' in o || 'completion' in o) {
    if (typeof o.prompt === 'string' && typeof o.completion === 'string')
      return { format: 'prompt-completion', prompt: o.prompt, completion: o.completion };
    if (Array.isArray(o.prompt) && Array.isArray(o.completion))
      return {
        format: 'conversational-prompt-completion',
        prompt: messagesOf(o.prompt, 'prompt', source, line),
        completion: messagesOf(o.completion, 'completion', source, line),
      };
    throw new UserError('{0} line {1}: "prompt" and "completion" must both be strings or both be lists of messages', source, line);
  }
  if (typeof o.text === 'string') return { format: 'text', text: o.text };
  throw new UserError(
    '{0} line {1} has none of the keys of a known format: write {2}, {3} or {4}',
    source,
    line,
    FORMAT_KEYS.text,
    FORMAT_KEYS['prompt-completion'],
    FORMAT_KEYS.conversational,
  );
}

function messagesOf(value: unknown, key: string, source: string, line: number): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new UserError('{0} line {1}: "{2}" must be a non-empty list of {"role", "content"} messages', source, line, key);
  return value.map((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string' || m.role === '' || typeof m.content !== 'string')
      throw new UserError(
        '{0} line {1}: message {2} of "{3}" must be {"role": "…", "content": "…"} with text content',
        source,
        line,
        i + 1,
        key,
      );
    return { role: m.role, content: m.content };
  });
}

/** Whether the examples need the model's chat template. */
export function isConversational(format: SftFormat): boolean {
  return format === 'conversational' || format === 'conversational-prompt-completion';
}
