import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { UserError } from './errors';
import { isObject, parseJsonObject } from './json';
import { readRegularFile } from './safe-fs';
import type { ChatMessage } from './sft-data';
import { CHAT_TEMPLATE_FILE } from './hf-export';

/** A model folder's chat template and the special tokens it names (tokenizer_config.json). */
export interface ChatTemplate {
  source: string;
  template: Template;
  bosToken: string;
  eosToken: string;
}

const MAX_TEMPLATE_BYTES = 1024 * 1024;

/** The special tokens tokenizer_config.json names (a string, or transformers' {"content": …} form). */
export function configTokens(dir: string): { bosToken?: string; eosToken?: string } {
  const config = tokenizerConfig(dir);
  return { bosToken: tokenText(config?.bos_token), eosToken: tokenText(config?.eos_token) };
}

/**
 * The folder's template as transformers finds it: chat_template.jinja, else tokenizer_config.json's
 * chat_template (a string, or a list of named templates of which "default" is used). Undefined when
 * there is none.
 */
export function readChatTemplate(dir: string): ChatTemplate | undefined {
  const found = chatTemplateText(dir);
  if (!found) return undefined;
  const { text, source } = found;
  let template: Template;
  try {
    template = new Template(text);
  } catch (e) {
    throw new UserError('{0}: the chat template does not parse ({1})', source, (e as Error).message);
  }
  const tokens = configTokens(dir);
  return { source, template, bosToken: tokens.bosToken ?? '', eosToken: tokens.eosToken ?? '' };
}

/** The folder's chat template as text (readChatTemplate's lookup), and the file it came from. */
export function chatTemplateText(dir: string): { text: string; source: string } | undefined {
  const jinja = join(dir, CHAT_TEMPLATE_FILE);
  if (existsSync(jinja)) return { text: readRegularFile(jinja, MAX_TEMPLATE_BYTES), source: jinja };
  const raw = tokenizerConfig(dir)?.chat_template;
  const source = join(dir, 'tokenizer_config.json');
  if (typeof raw === 'string') return { text: raw, source };
  if (Array.isArray(raw)) {
    const named = raw.find((t) => isObject(t) && t.name === 'default' && typeof t.template === 'string');
    if (named) return { text: named.template as string, source };
  }
  return undefined;
}

/** A conversation rendered by the model's template, as transformers' apply_chat_template(tokenize=False) gives it. */
export function renderChat(chat: ChatTemplate, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  try {
    return chat.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: chat.bosToken,
      eos_token: chat.eosToken,
    });
  } catch (e) {
    throw new UserError('{0}: the chat template failed on a conversation ({1})', chat.source, (e as Error).message);
  }
}

function tokenizerConfig(dir: string): Record<string, unknown> | undefined {
  const path = join(dir, 'tokenizer_config.json');
  return existsSync(path) ? parseJsonObject(readRegularFile(path), path) : undefined;
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}
