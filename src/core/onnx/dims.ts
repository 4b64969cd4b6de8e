// How a tensor's declared shape is written in messages.
import type { DimInfo } from './inspect';

/** [batch, 3, 224, 224]; unknown dims print as '?'. */
export function formatDims(dims: readonly DimInfo[]): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
