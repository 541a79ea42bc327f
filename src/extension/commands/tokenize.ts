import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { Ctx } from '../ctx';
import { TokensView } from '../webview/tokens-view';
import { stat } from 'node:fs/promises';
import { MAX_BPE_VOCAB, MIN_BPE_VOCAB, TokenizerKind, defaultBpeVocabSize } from '../../core/tokenizer';
import { safeName } from '../../core/run-dir';
import { checkTextFile, resolveTarget, showError } from './util';
import { DEFAULT_MAX_CORPUS_BYTES } from '../../core/corpus';
import { errorText } from '../error-text';

interface TokenizeOptions {
  kind: TokenizerKind;
  vocabSize?: number;
}

/** Tokenize Document: pick a tokenizer kind (and vocabulary size), train it on the file, save it, and show the file's tokens with it. */
export function tokenizeCommand(ctx: Ctx, tokens: TokensView) {
  return async (uri?: vscode.Uri, options?: TokenizeOptions) => {
    const target = await resolveTarget(uri);
    if (!target) return undefined;
    const refused = await checkTextFile(ctx, target, DEFAULT_MAX_CORPUS_BYTES);
    if (refused) return refused;
    try {
      const { size } = await stat(target.fsPath);
      const chosen = options ?? (await pickTokenizer(ctx, basename(target.fsPath), size));
      if (!chosen) return undefined;
      const { kind, vocabSize } = chosen;
      const outFile = join(
        dirname(ctx.runsRoot()),
        'tokenizers',
        `${safeName(target.fsPath)}-${kind}${vocabSize ? `-${vocabSize}` : ''}`,
        'tokenizer.json',
      );
      await ctx.ignoreInGit();
      // Training a BPE on a big file takes seconds: off the host thread.
      const made = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Tokenizing {0}…', basename(target.fsPath)) },
        () =>
          ctx.inference.request((id) => ({
            kind: 'tokenize',
            id,
            request: { corpusPath: target.fsPath, tokenizer: kind, vocabSize, outFile },
          })).result,
      );
      const { file, tokens: count, chars } = made;
      tokens.showDocumentTokenizer({ file, label: basename(target.fsPath) });
      await vscode.commands.executeCommand('corpusLab.showTokens');
      const open = vscode.l10n.t('Open tokenizer.json');
      void vscode.window
        .showInformationMessage(
          vscode.l10n.t(
            '{0} tokenizer: {1} tokens in the vocabulary; {2} tokens for {3} characters ({4} per token).',
            kind,
            made.vocabSize,
            count,
            chars,
            (chars / count).toFixed(2),
          ),
          open,
        )
        .then((a) => {
          if (a === open) void vscode.window.showTextDocument(vscode.Uri.file(file));
        });
      return { file, vocabSize: made.vocabSize, tokens: count };
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
  };
}

async function pickTokenizer(ctx: Ctx, name: string, bytes: number): Promise<TokenizeOptions | undefined> {
  const title = vscode.l10n.t('Tokenize {0}', name);
  const kind = await pickTokenizerKind(ctx, title);
  if (kind !== 'bpe') return kind && { kind };
  const vocabSize = await askVocabSize(title, bytes);
  return vocabSize === undefined ? undefined : { kind, vocabSize };
}

/** Characters or byte pairs, the configured kind first. */
export async function pickTokenizerKind(ctx: Ctx, title: string): Promise<TokenizerKind | undefined> {
  const items: (vscode.QuickPickItem & { tokenizer: TokenizerKind })[] = [
    {
      tokenizer: 'char',
      label: vscode.l10n.t('Characters'),
      description: 'char',
      detail: vscode.l10n.t('one token per character of the file; no unknown characters in it'),
    },
    {
      tokenizer: 'bpe',
      label: vscode.l10n.t('Byte pairs'),
      description: 'bpe',
      detail: vscode.l10n.t('frequent character sequences become tokens; any text can be encoded'),
    },
  ];
  if (ctx.config.tokenizer === 'bpe') items.reverse();
  return (await vscode.window.showQuickPick(items, { title, placeHolder: vscode.l10n.t('Choose the kind of tokenizer') }))?.tokenizer;
}

/** A BPE vocabulary size, suggested from the file's size and checked as core checks it. */
export async function askVocabSize(title: string, bytes: number): Promise<number | undefined> {
  const size = await vscode.window.showInputBox({
    title,
    prompt: vscode.l10n.t('Vocabulary size ({0}–{1})', MIN_BPE_VOCAB, MAX_BPE_VOCAB),
    value: String(defaultBpeVocabSize(bytes)),
    validateInput: (v) =>
      /^\d+$/.test(v.trim()) && Number(v) >= MIN_BPE_VOCAB && Number(v) <= MAX_BPE_VOCAB
        ? undefined
        : vscode.l10n.t('A whole number from {0} to {1}', MIN_BPE_VOCAB, MAX_BPE_VOCAB),
  });
  return size === undefined ? undefined : Number(size);
}
