import { UserError } from './errors';
import { ChatTemplate, readChatTemplate, renderChat } from './chat-template';
import type { ChatMessage } from './sft-data';
import { modelFolderKind } from './model-folder';
import { adapterBaseDir } from './adapter-base';

/** A question as the model's template asks it, and the texts that end the model's answer. */
export interface ChatPrompt {
  prompt: string;
  stops: string[];
}

/** Stands for an answer while finding what the template writes after one. */
const ANSWER_MARK = '\u0000ANSWER\u0000';

/**
 * The question as a user turn (after an optional system turn) with the generation prompt, as
 * transformers' apply_chat_template(add_generation_prompt=True) renders it; generation stops at the
 * text the template closes an assistant turn with (e.g. <|im_end|>, <|eot_id|>) or at EOS.
 */
export function chatPrompt(chat: ChatTemplate, question: string, system?: string): ChatPrompt {
  const messages: ChatMessage[] = [
    ...(system === undefined ? [] : [{ role: 'system', content: system }]),
    { role: 'user', content: question },
  ];
  const prompt = renderChat(chat, messages, true);
  return { prompt, stops: [...new Set([endOfTurn(chat, messages, prompt), chat.eosToken].filter((s) => s !== ''))] };
}

/** The model's template (a LoRA adapter's is its base's), or a one-line refusal saying what to do. */
export function requireChatTemplate(dir: string, base?: string): ChatTemplate {
  const chat = readChatTemplate(dir) ?? (modelFolderKind(dir) === 'adapter' ? readChatTemplate(adapterBaseDir(dir, base)) : undefined);
  if (!chat)
    throw new UserError(
      '{0} has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json): add the template the model was trained with, or complete a plain prompt instead',
      dir,
    );
  return chat;
}

/** What the template writes right after an answer, up to its first line break or space. */
function endOfTurn(chat: ChatTemplate, messages: ChatMessage[], prompt: string): string {
  const whole = renderChat(chat, [...messages, { role: 'assistant', content: ANSWER_MARK }], false);
  const at = whole.indexOf(ANSWER_MARK);
  if (!whole.startsWith(prompt) || at < 0) return '';
  return whole
    .slice(at + ANSWER_MARK.length)
    .trimStart()
    .split(/\s/)[0];
}
