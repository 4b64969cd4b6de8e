// The shape of a reverse-mode rule, shared by the per-op rules (rules.ts) and the composite rules
// (composites.ts): a module of its own so that neither imports the other's types.

import type { GraphBuilder, Value } from '../onnx/builder';
import type { GraphNode } from '../onnx/graph';

export interface GradContext {
  readonly b: GraphBuilder;
  readonly node: GraphNode;
  /** Forward inputs (undefined for omitted optional inputs). */
  readonly x: readonly (Value | undefined)[];
  /** Forward outputs. */
  readonly y: readonly Value[];
  /** Gradient of the first output (rules only differentiate through output 0). */
  readonly gy: Value;
  /** needs[i]: whether the gradient of input i is wanted (skip work otherwise). */
  readonly needs: readonly boolean[];
  /** For composite regions (GraphBuilder.composite): the forward values the region saved. */
  readonly saved?: Readonly<Record<string, Value>>;
}

export type GradRule = (c: GradContext) => readonly (Value | undefined)[];
