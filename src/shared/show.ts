/**
 * How a value reads in an error message: "`0` (number)", "`null` (null)",
 * "`a,b` (array)". The one formatter of the one message template
 * (parent/validate.ts), also for the task references made in task modules.
 */
export function show(value: unknown): string {
  let text: string;
  try {
    text =
      typeof value === 'string' ? value : typeof value === 'bigint' ? `${value}n` : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return `\`${text}\` (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`;
}
