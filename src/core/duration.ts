/** A duration as a person reads it: a whole number of seconds or minutes, or hours to a tenth. */
export type RoughDuration = { value: number; unit: 's' | 'min' | 'h' };

/** Seconds under a minute, minutes under an hour, else hours (front ends put the unit in their language). */
export function roughDuration(seconds: number): RoughDuration {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return { value: s, unit: 's' };
  const min = Math.round(seconds / 60);
  if (min < 60) return { value: min, unit: 'min' };
  return { value: Math.round(seconds / 360) / 10, unit: 'h' };
}

/** The English form (CLI): "45 s", "12 min", "1.5 h". */
export function formatDuration(seconds: number): string {
  const { value, unit } = roughDuration(seconds);
  return `${value} ${unit}`;
}

/** Time left at the pace so far (`secondsTaken` for `stepsTimed` steps); undefined until a step has been timed. */
export function etaSeconds(stepsLeft: number, stepsTimed: number, secondsTaken: number): number | undefined {
  if (!(stepsTimed > 0) || !(secondsTaken >= 0) || !Number.isFinite(secondsTaken)) return undefined;
  return (Math.max(0, stepsLeft) * secondsTaken) / stepsTimed;
}
