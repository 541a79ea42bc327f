import * as vscode from 'vscode';
import { basename } from 'node:path';
import { Ctx } from '../ctx';
import { cleanText, CLEAN_RULES, CleanOptions, CleanReport } from '../../core/clean';
import { resolveTarget, showError } from './util';
import { errorText } from '../error-text';
import { withParticles } from '../l10n';

const SCHEME = 'corpus-lab-cleaned';

interface Pending {
  target: vscode.Uri;
  original: string;
  text: string;
}

/**
 * Shows cleaned text as a read-only document, so the diff editor can compare it with the original,
 * and remembers what applying it would write.
 */
export class CleanedDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = SCHEME;
  private readonly pending = new Map<string, Pending>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(uri: vscode.Uri, p: Pending): void {
    this.pending.set(uri.toString(), p);
    this.changed.fire(uri);
  }

  get(uri: vscode.Uri): Pending | undefined {
    return this.pending.get(uri.toString());
  }

  delete(uri: vscode.Uri): void {
    this.pending.delete(uri.toString());
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.pending.get(uri.toString())?.text ?? '';
  }
}

/**
 * Clean Document: choose optional rules, see original ↔ cleaned with a report; Apply (in the diff's
 * title bar or on the report) writes the file and closes the diff.
 */
export function cleanCommand(ctx: Ctx, cleaned: CleanedDocuments) {
  return async (uri?: vscode.Uri, preset?: { rules?: CleanOptions; apply?: boolean }): Promise<CleanReport | undefined> => {
    const target = await resolveTarget(uri);
    if (!target) return undefined;
    let rules = preset?.rules;
    if (!rules) {
      const picked = await vscode.window.showQuickPick(
        CLEAN_RULES.map((rule) => ({ label: rule, description: ruleDescription(rule), rule, picked: false })),
        {
          canPickMany: true,
          title: vscode.l10n.t('Clean {0}', basename(target.fsPath)),
          placeHolder: vscode.l10n.t(
            'Optional rules (always: NFC, line breaks, control and zero-width characters, trailing spaces, blank-line runs)',
          ),
        },
      );
      if (!picked) return undefined;
      rules = Object.fromEntries(picked.map((p) => [p.rule, true]));
    }
    try {
      const doc = await vscode.workspace.openTextDocument(target);
      const original = doc.getText();
      const { text, report } = cleanText(original, rules);
      if (text === original) {
        ctx.log.appendLine(`clean ${target.fsPath}: nothing to change`);
        void vscode.window.showInformationMessage(
          withParticles(vscode.l10n.t('{0} is already clean: nothing to change.', basename(target.fsPath))),
        );
        return report;
      }
      const right = vscode.Uri.from({ scheme: SCHEME, path: target.path, query: String(Date.now()) });
      cleaned.set(right, { target, original, text });
      await vscode.commands.executeCommand(
        'vscode.diff',
        target,
        right,
        vscode.l10n.t('{0}: original ↔ cleaned', basename(target.fsPath)),
        { preview: true },
      );
      const summary =
        report.steps
          .filter((s) => s.count > 0)
          .map((s) => `${stepDescription(s.rule, s.description)}: ${s.count}`)
          .join('; ') || vscode.l10n.t('nothing to change');
      ctx.log.appendLine(`clean ${target.fsPath}: ${report.steps.map((s) => `${s.description}: ${s.count}`).join('; ')}`);
      if (preset?.apply) {
        await applyCleaned(cleaned, right);
        return report;
      }
      const apply = vscode.l10n.t('Apply');
      void vscode.window
        .showInformationMessage(
          vscode.l10n.t('Cleaned {0}: {1}. {2} → {3} characters.', basename(target.fsPath), summary, report.charsBefore, report.charsAfter),
          apply,
          vscode.l10n.t('Discard'),
        )
        .then(async (answer) => {
          if (answer === apply) await applyCleaned(cleaned, right);
          else if (answer) await closeDiff(cleaned, right);
        });
      return report;
    } catch (e) {
      showError(ctx, errorText(e));
      return undefined;
    }
  };
}

/** Apply Cleaning (the diff's title bar): writes the cleaned text shown on the right, then closes the diff. */
export function applyCleanedCommand(cleaned: CleanedDocuments) {
  return (uri?: vscode.Uri) => {
    const right = uri?.scheme === SCHEME ? uri : openCleanedUri();
    return right && applyCleaned(cleaned, right);
  };
}

/** Discard Cleaning: closes the diff without writing. */
export function discardCleanedCommand(cleaned: CleanedDocuments) {
  return (uri?: vscode.Uri) => {
    const right = uri?.scheme === SCHEME ? uri : openCleanedUri();
    return right && closeDiff(cleaned, right);
  };
}

function openCleanedUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputTextDiff && input.modified.scheme === SCHEME ? input.modified : undefined;
}

async function applyCleaned(cleaned: CleanedDocuments, right: vscode.Uri): Promise<boolean> {
  const p = cleaned.get(right);
  if (!p) return false;
  const doc = await vscode.workspace.openTextDocument(p.target);
  if (p.text !== p.original) {
    const edit = new vscode.WorkspaceEdit();
    // LF explicitly: a CRLF document would otherwise turn the cleaned line breaks back into CRLF.
    edit.set(p.target, [
      vscode.TextEdit.replace(new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), p.text),
      vscode.TextEdit.setEndOfLine(vscode.EndOfLine.LF),
    ]);
    await vscode.workspace.applyEdit(edit);
    await doc.save();
  }
  await closeDiff(cleaned, right);
  return true;
}

async function closeDiff(cleaned: CleanedDocuments, right: vscode.Uri): Promise<void> {
  cleaned.delete(right);
  const tabs = vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === right.toString());
  if (tabs.length) await vscode.window.tabGroups.close(tabs);
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

/** A cleaning step of the report as the user reads it. */
function stepDescription(rule: string, english: string): string {
  switch (rule) {
    case 'line-breaks':
      return vscode.l10n.t('CRLF and CR line breaks made LF');
    case 'nfc':
      return vscode.l10n.t('characters changed by Unicode NFC normalisation');
    case 'front-matter':
      return vscode.l10n.t('YAML front matter blocks removed');
    case 'markup':
      return vscode.l10n.t('markdown and HTML markup pieces removed');
    case 'urls':
      return vscode.l10n.t('URLs removed');
    case 'emoji':
      return vscode.l10n.t('emoji removed');
    case 'control':
      return vscode.l10n.t('control characters removed');
    case 'invisible':
      return vscode.l10n.t('zero-width and invisible format characters removed');
    case 'trailing-spaces':
      return vscode.l10n.t('lines with trailing spaces or tabs trimmed');
    case 'blank-lines':
      return vscode.l10n.t('runs of blank lines collapsed to one');
    case 'edges':
      return vscode.l10n.t('blank lines removed at the start and end');
    default:
      return english;
  }
}
