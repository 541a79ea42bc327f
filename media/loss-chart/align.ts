import type uPlot from 'uplot';

/** Puts several (x, y) series on one shared x axis, with nulls where a series has no point. */
export function align(sets: [number[], (number | null)[]][]): uPlot.AlignedData {
  const xs = [...new Set(sets.flatMap(([x]) => x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = sets.map(([x, y]) => {
    const out: (number | null)[] = new Array(xs.length).fill(null);
    x.forEach((xi, i) => (out[index.get(xi)!] = y[i]));
    return out;
  });
  return [xs, ...ys] as uPlot.AlignedData;
}
