import * as vscode from 'vscode';
import type { BackendChoice } from '../worker/protocol';
import type { TokenizerKind } from '../core/tokenizer';
import { CLEAN_RULES, CleanOptions } from '../core/clean';

/**
 * Typed reads of the corpusLab.* settings. Defaults live only in package.json (VS Code returns
 * them for settings the user has not set).
 */
export class Config {
  private get<T>(key: string): T {
    return vscode.workspace.getConfiguration('corpusLab').get<T>(key) as T;
  }
  get completionEnabled(): boolean {
    return this.get('completion.enabled');
  }
  get completionLanguages(): string[] {
    return this.get('completion.languages');
  }
  get temperature(): number {
    return this.get('completion.temperature');
  }
  get topK(): number {
    return this.get('completion.topK');
  }
  get topP(): number {
    return this.get('completion.topP');
  }
  get maxTokens(): number {
    return this.get('completion.maxTokens');
  }
  get debounceMs(): number {
    return this.get('completion.debounceMs');
  }
  get stopAtNewline(): boolean {
    return this.get('completion.stopAtNewline');
  }
  get defaultPreset(): string {
    return this.get('training.defaultPreset');
  }
  get tokenizer(): TokenizerKind {
    return this.get('training.tokenizer');
  }
  /** How a new run cleans its text (corpusLab.training.clean and cleanRules); undefined: it trains on the text as it is. */
  get trainingClean(): CleanOptions | undefined {
    if (!this.get<boolean>('training.clean')) return undefined;
    const rules = this.get<string[]>('training.cleanRules') ?? [];
    return Object.fromEntries(CLEAN_RULES.filter((rule) => rules.includes(rule)).map((rule) => [rule, true]));
  }
  get epochs(): number | undefined {
    return this.get<number | null>('training.epochs') ?? undefined;
  }
  get maxSteps(): number | undefined {
    return this.get<number | null>('training.maxSteps') ?? undefined;
  }
  get backend(): BackendChoice {
    return this.get('training.backend');
  }
  get runsFolder(): string {
    return this.get('runsFolder');
  }
  get extraTextExtensions(): string[] {
    return this.get('extraTextExtensions');
  }
  async setCompletionEnabled(on: boolean): Promise<void> {
    await vscode.workspace.getConfiguration('corpusLab').update('completion.enabled', on, vscode.ConfigurationTarget.Global);
  }
}
