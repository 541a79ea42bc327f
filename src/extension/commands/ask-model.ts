import * as vscode from 'vscode';
import { Ctx, modelName } from '../ctx';
import { RunsNode } from '../runs-tree';
import { SampleDocuments } from './generate';
import { checkpointOf } from './models';
import { showError } from './util';
import { errorText } from '../error-text';
import { resolveCheckpoint } from '../../core/checkpoint';
import { chatPrompt, requireChatTemplate } from '../../core/chat-prompt';

/** The language of an answer's document: package.json turns word wrap on for it. */
const ANSWER_LANGUAGE = 'corpus-lab-answer';

interface AskOptions {
  question?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
}

/**
 * Ask the Model…: a question asked with the model's chat template (a user turn and the generation
 * prompt), the answer streamed beside, up to the template's end of turn, without its markup.
 */
export function askModelCommand(ctx: Ctx, samples: SampleDocuments) {
  return async (node?: RunsNode, options?: AskOptions) => {
    const model = node ? (node.kind === 'run' || node.kind === 'checkpoint' ? checkpointOf(node) : node.path) : ctx.activeModel;
    if (!model) {
      vscode.window.showInformationMessage(vscode.l10n.t('No active model: train one, or pick one with Set Active Model.'));
      return undefined;
    }
    // A model without a chat template is refused before the question is typed.
    let checkpoint: string;
    let chat: ReturnType<typeof requireChatTemplate>;
    try {
      checkpoint = resolveCheckpoint(model);
      chat = requireChatTemplate(checkpoint);
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
    const question =
      options?.question ??
      (await vscode.window.showInputBox({
        title: vscode.l10n.t('Ask {0}', modelName(model)),
        prompt: vscode.l10n.t('Your question (asked as a user turn with the model’s chat template)'),
        validateInput: (v) => (v.trim() ? undefined : vscode.l10n.t('Type a question.')),
      }));
    if (question === undefined) return undefined;
    let asked: ReturnType<typeof chatPrompt>;
    try {
      asked = chatPrompt(chat, question, options?.system);
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
    if (!(await ctx.mayLoadModelFrom(checkpoint))) return undefined;
    const heading = `${vscode.l10n.t('You')}: ${question}\n\n${modelName(checkpoint)}: `;
    const uri = samples.create(vscode.l10n.t('Ask {0}', modelName(checkpoint).replace(/\//g, ' ')), heading, checkpoint);
    // An answer is prose, read in a column beside the question: its language wraps its lines (package.json's configurationDefaults).
    const doc = await vscode.languages.setTextDocumentLanguage(await vscode.workspace.openTextDocument(uri), ANSWER_LANGUAGE);
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
    let answer = '';
    const job = ctx.inference.request(
      (id) => ({
        kind: 'generate',
        id,
        checkpoint,
        prompt: asked.prompt,
        options: {
          temperature: options?.temperature ?? 0.7,
          topK: 0,
          topP: 0.95,
          maxTokens: options?.maxTokens ?? 256,
          seed: Date.now() >>> 0,
          stop: asked.stops,
        },
      }),
      (m) => {
        if (m.kind !== 'text') return;
        // The generation prompt ends the template's header; the answer's own first line break is noise.
        const text = answer ? m.text : m.text.trimStart();
        answer += text;
        samples.append(uri, text);
      },
    );
    try {
      const result = await job.result;
      return { ...result, answer, uri, prompt: asked.prompt };
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
  };
}
