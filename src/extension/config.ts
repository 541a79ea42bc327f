import * as vscode from 'vscode';

/** Typed reads of the corpusLab.* settings (package.json declares them with descriptions). */
export class Config {
  private get c() {
    return vscode.workspace.getConfiguration('corpusLab');
  }
  get completionEnabled(): boolean {
    return this.c.get('completion.enabled', true);
  }
  get completionLanguages(): string[] {
    return this.c.get('completion.languages', ['plaintext', 'markdown']);
  }
  get temperature(): number {
    return this.c.get('completion.temperature', 0.7);
  }
  get topK(): number {
    return this.c.get('completion.topK', 40);
  }
  get topP(): number {
    return this.c.get('completion.topP', 0.95);
  }
  get maxTokens(): number {
    return this.c.get('completion.maxTokens', 16);
  }
  get debounceMs(): number {
    return this.c.get('completion.debounceMs', 150);
  }
  get stopAtNewline(): boolean {
    return this.c.get('completion.stopAtNewline', true);
  }
  get defaultPreset(): string {
    return this.c.get('training.defaultPreset', 'tiny');
  }
  get tokenizer(): 'char' | 'bpe' {
    return this.c.get('training.tokenizer', 'char');
  }
  get epochs(): number | undefined {
    return this.c.get<number | null>('training.epochs', null) ?? undefined;
  }
  get maxSteps(): number | undefined {
    return this.c.get<number | null>('training.maxSteps', null) ?? undefined;
  }
  get backend(): 'auto' | 'native' | 'tensorflow' | 'wasm' | 'cpu' {
    return this.c.get('training.backend', 'auto');
  }
  get runsFolder(): string {
    return this.c.get('runsFolder', '');
  }
  get extraTextExtensions(): string[] {
    return this.c.get('extraTextExtensions', []);
  }
  async setCompletionEnabled(on: boolean): Promise<void> {
    await this.c.update('completion.enabled', on, vscode.ConfigurationTarget.Global);
  }
}
