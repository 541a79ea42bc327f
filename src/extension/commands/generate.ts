import * as vscode from 'vscode';
import { Ctx } from '../ctx';
import { coreValidation, showError } from './util';
import { modelName } from '../ctx';
import { DEFAULT_GENERATE_OPTIONS, validateGenerateOptions } from '../../core/generate-options';
import { errorText } from '../error-text';

const SCHEME = 'corpus-lab-sample';

/** Generated samples as read-only documents: they stream in, and closing one asks nothing. */
export class SampleDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = SCHEME;
  private readonly texts = new Map<string, string>();
  private readonly models = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private next = 1;

  create(label: string, text: string, model: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${label} (${this.next++}).txt` });
    this.texts.set(uri.toString(), text);
    this.models.set(uri.toString(), model);
    return uri;
  }

  /** The model that wrote a sample: a sample is continued by its own model. */
  modelOf(uri: vscode.Uri): string | undefined {
    return this.models.get(uri.toString());
  }

  append(uri: vscode.Uri, text: string): void {
    this.texts.set(uri.toString(), (this.texts.get(uri.toString()) ?? '') + text);
    this.changed.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }
}

interface SampleOptions {
  prompt?: string;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

/**
 * Generate Sample: continue the selection (or the current line) in a read-only editor beside,
 * streaming; asks for length, temperature and seed; the prompt is highlighted so the model's part
 * stands out.
 */
export function generateSampleCommand(ctx: Ctx, samples: SampleDocuments) {
  const promptDecoration = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor('editor.wordHighlightBackground'),
    after: { contentText: ' ⟵', color: new vscode.ThemeColor('editorCodeLens.foreground') },
  });
  ctx.extension.subscriptions.push(promptDecoration);
  return async (options?: SampleOptions) => {
    const sampleEditor = vscode.window.activeTextEditor;
    const model = (sampleEditor && samples.modelOf(sampleEditor.document.uri)) ?? (await ctx.serving.forActiveEditor())?.model;
    if (!model) {
      vscode.window.showInformationMessage(vscode.l10n.t('No active model: train one, or pick one with Set Active Model.'));
      return undefined;
    }
    if (!(await ctx.mayLoadModelFrom(model))) return undefined;
    const editor = vscode.window.activeTextEditor;
    const prompt =
      options?.prompt ??
      (editor
        ? editor.selection.isEmpty
          ? editor.document.lineAt(editor.selection.active.line).text
          : editor.document.getText(editor.selection)
        : '');
    const settings =
      options?.maxTokens !== undefined
        ? { maxTokens: options.maxTokens, temperature: options.temperature ?? 0.8, seed: options.seed ?? Date.now() >>> 0 }
        : await askSampleSettings();
    if (!settings) return undefined;
    const uri = samples.create(vscode.l10n.t('Sample from {0}', modelName(model).replace(/\//g, ' ')), prompt, model);
    const doc = await vscode.workspace.openTextDocument(uri);
    const out = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
    const markPrompt = () =>
      prompt &&
      out.setDecorations(promptDecoration, [
        {
          range: new vscode.Range(doc.positionAt(0), doc.positionAt(prompt.length)),
          hoverMessage: vscode.l10n.t('Your prompt; the model wrote what follows.'),
        },
      ]);
    markPrompt();
    const job = ctx.inference.request(
      (id) => ({
        kind: 'generate',
        id,
        checkpoint: model,
        prompt,
        options: { temperature: settings.temperature, topK: 0, topP: 0.95, maxTokens: settings.maxTokens, seed: settings.seed, stop: [] },
      }),
      (m) => {
        if (m.kind !== 'text') return;
        samples.append(uri, m.text);
        markPrompt();
      },
    );
    try {
      const result = await job.result;
      return { ...result, uri, promptLength: prompt.length };
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
  };
}

/** Length, temperature and seed, each checked by core's generation options. */
async function askSampleSettings(): Promise<{ maxTokens: number; temperature: number; seed: number } | undefined> {
  const title = vscode.l10n.t('Generate Sample');
  const ask = async (prompt: string, value: string, key: 'maxTokens' | 'temperature' | 'seed') => {
    const answer = await vscode.window.showInputBox({
      title,
      prompt,
      value,
      validateInput: (v) => coreValidation(v, (n) => validateGenerateOptions({ ...DEFAULT_GENERATE_OPTIONS, [key]: n })),
    });
    return answer === undefined ? undefined : Number(answer.trim());
  };
  const maxTokens = await ask(vscode.l10n.t('Length (tokens to generate)'), '300', 'maxTokens');
  if (maxTokens === undefined) return undefined;
  const temperature = await ask(vscode.l10n.t('Temperature (0: always the likeliest token)'), '0.8', 'temperature');
  if (temperature === undefined) return undefined;
  const seed = await ask(vscode.l10n.t('Seed (the same seed gives the same sample)'), String(Math.floor(Math.random() * 100000)), 'seed');
  if (seed === undefined) return undefined;
  return { maxTokens, temperature, seed };
}
