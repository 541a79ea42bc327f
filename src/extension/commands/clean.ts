import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx } from '../ctx';
import { cleanText, CLEAN_RULES, CleanOptions, CleanReport } from '../../core/clean';
import { resolveTarget, showError } from './util';

const SCHEME = 'corpus-lab-cleaned';

/** Shows cleaned text as a read-only document, so the diff editor can compare it with the original. */
export class CleanedDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = SCHEME;
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(uri: vscode.Uri, text: string): void {
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }
}

/** Clean Document: choose optional rules, see original ↔ cleaned with a report, write only on "Apply". */
export function cleanCommand(ctx: Ctx, cleaned: CleanedDocuments) {
  return async (uri?: vscode.Uri, preset?: { rules?: CleanOptions; apply?: boolean }): Promise<CleanReport | undefined> => {
    const target = await resolveTarget(uri);
    if (!target) return undefined;
    let rules = preset?.rules;
    if (!rules) {
      const picked = await vscode.window.showQuickPick(
        CLEAN_RULES.map((rule) => ({ label: rule, description: ruleDescription(rule), rule, picked: false })),
        { canPickMany: true, title: vscode.l10n.t('Clean {0}', basename(target.fsPath)), placeHolder: vscode.l10n.t('Optional rules (always: NFC, line breaks, control and zero-width characters, trailing spaces, blank-line runs)') },
      );
      if (!picked) return undefined;
      rules = Object.fromEntries(picked.map((p) => [p.rule, true]));
    }
    try {
      const doc = await vscode.workspace.openTextDocument(target);
      const original = doc.getText();
      const { text, report } = cleanText(original, rules);
      const right = vscode.Uri.from({ scheme: SCHEME, path: target.path, query: String(Date.now()) });
      cleaned.set(right, text);
      await vscode.commands.executeCommand('vscode.diff', target, right, vscode.l10n.t('{0}: original ↔ cleaned', basename(target.fsPath)), { preview: true });
      const summary = report.steps.filter((s) => s.count > 0).map((s) => `${s.description}: ${s.count}`).join('; ') || vscode.l10n.t('nothing to change');
      ctx.log.appendLine(`clean ${target.fsPath}: ${summary}`);
      const apply = vscode.l10n.t('Apply');
      const answer = preset?.apply ? apply : await vscode.window.showInformationMessage(vscode.l10n.t('Cleaned {0}: {1}. {2} → {3} characters.', basename(target.fsPath), summary, report.charsBefore, report.charsAfter), apply, vscode.l10n.t('Discard'));
      if (answer === apply && text !== original) {
        const edit = new vscode.WorkspaceEdit();
        // LF explicitly: a CRLF document would otherwise turn the cleaned line breaks back into CRLF.
        edit.set(target, [vscode.TextEdit.replace(new vscode.Range(doc.positionAt(0), doc.positionAt(original.length)), text), vscode.TextEdit.setEndOfLine(vscode.EndOfLine.LF)]);
        await vscode.workspace.applyEdit(edit);
        await doc.save();
      }
      return report;
    } catch (e) {
      showError(ctx, (e as Error).message);
      return undefined;
    }
  };
}

function ruleDescription(rule: string): string {
  switch (rule) {
    case 'markup':
      return vscode.l10n.t('strip Markdown and HTML markup, keep the words');
    case 'urls':
      return vscode.l10n.t('remove web addresses');
    case 'front-matter':
      return vscode.l10n.t('remove a YAML front matter block');
    default:
      return vscode.l10n.t('remove emoji (whole sequences)');
  }
}
