import * as vscode from 'vscode';

/** The loss chart's words for units and baselines (media/loss-chart/units.ts). */
export function unitStrings(): Record<string, string> {
  return {
    unit: vscode.l10n.t('Unit'),
    unitNats: vscode.l10n.t('nats/token'),
    unitBpc: vscode.l10n.t('bits/char'),
    unitBpb: vscode.l10n.t('bits/byte'),
    baselines: vscode.l10n.t('To beat, on the same held-out text'),
    baselineUniform: vscode.l10n.t('guessing evenly (ln |V|)'),
    baselineInit: vscode.l10n.t('this model at initialisation'),
    baselineUnigram: vscode.l10n.t('character frequencies only (unigram)'),
    baselineGzip: vscode.l10n.t('gzip -9'),
    gzipTooShort: vscode.l10n.t(
      'gzip -9 is left out: the held-out text is under 32 KiB, where gzip is still learning the text it compresses and its figure says nothing about the model.',
    ),
    heldOut: vscode.l10n.t('Validation is measured on {0} held-out tokens: {1} characters, {2} UTF-8 bytes.'),
    denominators: vscode.l10n.t(
      'Bits per character divide by Unicode characters, bits per byte by UTF-8 bytes: a Korean syllable is one character and three bytes, so its bits per byte are about a third of its bits per character. Training loss is converted with the held-out text’s characters per token.',
    ),
    noBaselines: vscode.l10n.t('This run is from before baselines were recorded: only nats per token are shown.'),
  };
}
