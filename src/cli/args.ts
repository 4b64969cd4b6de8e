// Small, strict option parsing on top of node:util parseArgs: numbers and lists are validated
// with messages that name the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorText } from '../core/runtime/error-text';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(argv: readonly string[], options: Options): Record<string, string | boolean | undefined> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`Unexpected argument: ${positionals[0]}`);
    return values as Record<string, string | boolean | undefined>;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(errorText(err));
  }
}

export function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required.`);
  return v;
}

export function num(values: Record<string, unknown>, name: string, fallback: number, check: (n: number) => boolean = Number.isFinite): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !check(n)) throw new UsageError(`--${name} must be a valid number, got ${String(v)}.`);
  return n;
}

export function optionalNum(values: Record<string, unknown>, name: string, check: (n: number) => boolean = Number.isFinite): number | undefined {
  return values[name] === undefined ? undefined : num(values, name, 0, check);
}

export function numberList(values: Record<string, unknown>, name: string, length: number): number[] | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const parts = String(v).split(',').map((s) => Number(s.trim()));
  if (parts.length !== length || parts.some((n) => !Number.isFinite(n))) throw new UsageError(`--${name} must be ${length} comma-separated numbers, got ${String(v)}.`);
  return parts;
}

export const positive = (n: number): boolean => Number.isFinite(n) && n > 0;
export const positiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;
export const fraction = (n: number): boolean => Number.isFinite(n) && n > 0 && n < 1;
export const share = (n: number): boolean => Number.isFinite(n) && n >= 0 && n <= 1;
