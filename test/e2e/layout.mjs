// Layout checks run inside a webview's page (a Playwright frame): what a user sees broken, measured.

/** How many CSS pixels the page is wider than its window, and each `.table-wrap` wider than its box. */
export function overflows(frame) {
  return frame.evaluate(() => ({
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    tables: [...document.querySelectorAll('.table-wrap')].map((w) => w.scrollWidth - w.clientWidth),
  }));
}

/** The texts of `selector`'s elements in which a word (between spaces, dashes and slashes, where a line may break) is split over two lines. */
export function wordsSplit(frame, selector) {
  return frame.evaluate((selector) => {
    const split = [];
    for (const e of document.querySelectorAll(selector)) {
      const node = [...e.childNodes].find((n) => n.nodeType === Node.TEXT_NODE);
      if (!node) continue;
      for (const m of node.textContent.matchAll(/[^\s\u2013\u2014/-]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) split.push(`${e.textContent} ("${m[0]}")`);
      }
    }
    return split;
  }, selector);
}

/**
 * What is wrong with the tick labels uPlot drew on the canvas of each chart under `selector`, read
 * from its pixels: a y label cut at the canvas's left edge, or x labels that run together (fewer
 * separate labels under the axis than tick marks on it).
 */
export function tickLabelProblems(frame, selector) {
  return frame.evaluate((selector) => {
    const problems = [];
    for (const [i, root] of [...document.querySelectorAll(`${selector} .uplot`)].entries()) {
      const canvas = root.querySelector('canvas');
      const over = root.querySelector('.u-over');
      const g = canvas.getContext('2d');
      const r = devicePixelRatio;
      const [left, top, width, height] = [over.offsetLeft, over.offsetTop, over.offsetWidth, over.offsetHeight];
      /** For each column of a band of rows (CSS px), whether anything is drawn there. */
      const inked = (x, y, w, h, alpha = 60) => {
        const px = g.getImageData(Math.round(x * r), Math.round(y * r), Math.round(w * r), Math.round(h * r));
        const cols = new Array(px.width).fill(false);
        for (let i = 3; i < px.data.length; i += 4) if (px.data[i] > alpha) cols[((i - 3) / 4) % px.width] = true;
        return cols;
      };
      /** Runs of inked columns, counted as separate when at least `gap` device pixels apart. */
      const runs = (cols, gap) => {
        let count = 0;
        let blank = gap;
        for (const c of cols) {
          if (c && blank >= gap) count++;
          blank = c ? 0 : blank + 1;
        }
        return count;
      };
      const name = root.id || `chart ${i + 1}`;
      if (inked(0, top, 2, height).some(Boolean)) problems.push(`${name}: a y tick label is cut at the left edge`);
      // Tick marks hang 10 px under the plot; the labels start 15 px under it, 12 px high.
      const ticks = runs(inked(left, top + height + 4, width, 1, 10), 1);
      // Labels less than 8 px apart read as one ("125,000150,000").
      const labels = runs(inked(0, top + height + 16, canvas.width / r, 10), 8 * r);
      if (labels < ticks) problems.push(`${name}: ${ticks} x ticks but only ${labels} separate labels (some run together)`);
    }
    return problems;
  }, selector);
}
