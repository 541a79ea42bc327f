import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';

/** Webview HTML with a strict Content-Security-Policy: only our bundled script and styles, by nonce. */
export function webviewHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  name: 'loss-chart' | 'tokens' | 'next-token' | 'attention' | 'surprisal' | 'compare',
  title: string,
  lang: string,
): string {
  const nonce = randomBytes(16).toString('base64');
  const media = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'media', file));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${media(`${name}.css`)}" nonce="${nonce}">
<title>${title}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${media(`${name}.js`)}"></script>
</body>
</html>`;
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'media')] };
}
