import uPlot from 'uplot';

// uPlot gives tick labels a fixed room: a y axis 50 px wide (a throughput of 10,000 showed as
// "0,000") and 50 px between x ticks (125,000 and 150,000 ran together). These measure the labels.

/** Space between two x labels, and before a y label, in CSS pixels. */
const LABEL_GAP = 12;
const Y_PADDING = 4;

/** Width in CSS pixels of `text` in the axis's tick font (uPlot keeps that font scaled by the pixel ratio). */
function textWidth(u: uPlot, axisIdx: number, text: string): number {
  const [font] = u.axes[axisIdx].font as unknown as [string];
  u.ctx.font = font;
  return u.ctx.measureText(text).width / uPlot.pxRatio;
}

/** A y axis as wide as its widest tick label, its ticks and gap. */
const fitWidth: uPlot.Axis.Size = (u, values, axisIdx) => {
  const axis = u.axes[axisIdx];
  if (!values) return 50; // before the first layout, uPlot's default
  const widest = Math.max(0, ...values.map((v) => textWidth(u, axisIdx, v)));
  return Math.ceil(widest + (axis.ticks?.size ?? 10) + (axis.gap ?? 5) + Y_PADDING);
};

/** Ticks on an x axis of numbers at least as far apart as its widest label, and a gap. */
const spaceForLabels: uPlot.Axis.Space = (u, axisIdx, min, max) =>
  Math.max(...[min, max].map((v) => textWidth(u, axisIdx, uPlot.fmtNum(v)))) + LABEL_GAP;

export const fittedXAxis: Partial<uPlot.Axis> = { space: spaceForLabels };
export const fittedYAxis: Partial<uPlot.Axis> = { size: fitWidth };
