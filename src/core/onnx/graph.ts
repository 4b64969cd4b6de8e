// The in-memory graph IR shared by the builder, the autograd pass, the JS reference interpreter and
// the ONNX (de)serialiser. Shapes are always static: the training engine needs them at build time.

export type DType = 'float32' | 'int64' | 'int32' | 'bool' | 'uint8';

export type Shape = readonly number[];

/** Typed array that holds the elements of a tensor of the given dtype. */
export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** A constant tensor stored in the graph (ONNX initializer). `bool` and `uint8` use Uint8Array. */
export interface Initializer extends ValueInfo {
  readonly data: TensorData;
}

/** ONNX attributes, tagged so that int and float attributes stay distinct on the wire. */
export type Attr =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'tensor'; readonly value: Initializer };

export type Attrs = Readonly<Record<string, Attr>>;

export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attrs;
  /** Unique within the graph; the serialiser names nodes `n<i>` when absent. */
  readonly name?: string;
  /** Empty / undefined = the default ONNX domain. */
  readonly domain?: string;
}

export interface Graph {
  readonly name: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers: readonly Initializer[];
  /** Topologically ordered. */
  readonly nodes: readonly GraphNode[];
  /** Shape and dtype of every intermediate value (node outputs), keyed by name. */
  readonly valueInfo: ReadonlyMap<string, ValueInfo>;
}

export interface OpsetImport {
  readonly domain: string;
  readonly version: number;
}

export interface Model {
  readonly graph: Graph;
  readonly opsets: readonly OpsetImport[];
  readonly producerName?: string;
  readonly producerVersion?: string;
  /** Free-form string metadata (ONNX `metadata_props`), e.g. the decoder config. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The opset every graph we emit targets. */
export const DEFAULT_OPSET = 17;

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  tensor: (value: Initializer): Attr => ({ kind: 'tensor', value }),
} as const;

export function numElements(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float32':
    case 'int32':
      return 4;
    case 'int64':
      return 8;
    case 'bool':
    case 'uint8':
      return 1;
  }
}
