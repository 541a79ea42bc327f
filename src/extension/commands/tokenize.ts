import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { Ctx } from '../ctx';
import { TokensView } from '../webview/tokens-view';
import { readCorpus } from '../../core/corpus';
import { trainTokenizer } from '../../core/tokenizer';
import { writeFileAtomic } from '../../core/atomic-write';
import { safeName } from '../../core/run-dir';
import { resolveTarget, showError } from './util';

/** Tokenize Document: train the configured tokenizer on the file, save it, and show the file's tokens. */
export function tokenizeCommand(ctx: Ctx, tokens: TokensView) {
  return async (uri?: vscode.Uri) => {
    const target = await resolveTarget(uri);
    if (!target) return undefined;
    try {
      const kind = ctx.config.tokenizer;
      const corpus = readCorpus(target.fsPath);
      const tokenizer = trainTokenizer(corpus.text, { kind });
      const file = join(dirname(ctx.runsRoot()), 'tokenizers', `${safeName(target.fsPath)}-${kind}`, 'tokenizer.json');
      writeFileAtomic(file, tokenizer.toJSON());
      tokens.documentTokenizer = { file, label: basename(target.fsPath) };
      const count = tokenizer.encode(corpus.text).length;
      const chars = [...corpus.text].length;
      await vscode.commands.executeCommand('corpusLab.showTokens');
      const open = vscode.l10n.t('Open tokenizer.json');
      void vscode.window
        .showInformationMessage(vscode.l10n.t('{0} tokenizer: {1} tokens in the vocabulary; {2} tokens for {3} characters ({4} per token).', kind, tokenizer.vocabSize, count, chars, (chars / count).toFixed(2)), open)
        .then((a) => {
          if (a === open) void vscode.window.showTextDocument(vscode.Uri.file(file));
        });
      return { file, vocabSize: tokenizer.vocabSize, tokens: count };
    } catch (e) {
      showError(ctx, (e as Error).message);
      return undefined;
    }
  };
}
