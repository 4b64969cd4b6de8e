// ONNX TensorProto.DataType codes <-> our DType, plus readable names for every ONNX element type
// (inspection reports types we cannot compute with, such as float16, by name).

import { TensorProto_DataType as T } from 'onnx-buf';
import type { DType } from './graph';

const DTYPE_TO_CODE: Readonly<Record<DType, number>> = {
  float32: T.FLOAT,
  int64: T.INT64,
  int32: T.INT32,
  bool: T.BOOL,
  uint8: T.UINT8,
};

/** Readable name and storage size in bits of each ONNX element type. */
const ELEM_TYPES: ReadonlyMap<number, { readonly name: string; readonly bits: number }> = new Map([
  [T.FLOAT, { name: 'float32', bits: 32 }],
  [T.UINT8, { name: 'uint8', bits: 8 }],
  [T.INT8, { name: 'int8', bits: 8 }],
  [T.UINT16, { name: 'uint16', bits: 16 }],
  [T.INT16, { name: 'int16', bits: 16 }],
  [T.INT32, { name: 'int32', bits: 32 }],
  [T.INT64, { name: 'int64', bits: 64 }],
  [T.STRING, { name: 'string', bits: 0 }],
  [T.BOOL, { name: 'bool', bits: 8 }],
  [T.FLOAT16, { name: 'float16', bits: 16 }],
  [T.DOUBLE, { name: 'float64', bits: 64 }],
  [T.UINT32, { name: 'uint32', bits: 32 }],
  [T.UINT64, { name: 'uint64', bits: 64 }],
  [T.COMPLEX64, { name: 'complex64', bits: 64 }],
  [T.COMPLEX128, { name: 'complex128', bits: 128 }],
  [T.BFLOAT16, { name: 'bfloat16', bits: 16 }],
  [T.FLOAT8E4M3FN, { name: 'float8e4m3fn', bits: 8 }],
  [T.FLOAT8E4M3FNUZ, { name: 'float8e4m3fnuz', bits: 8 }],
  [T.FLOAT8E5M2, { name: 'float8e5m2', bits: 8 }],
  [T.FLOAT8E5M2FNUZ, { name: 'float8e5m2fnuz', bits: 8 }],
  [T.UINT4, { name: 'uint4', bits: 4 }],
  [T.INT4, { name: 'int4', bits: 4 }],
  [T.FLOAT4E2M1, { name: 'float4e2m1', bits: 4 }],
  [T.FLOAT8E8M0, { name: 'float8e8m0', bits: 8 }],
  [T.UINT2, { name: 'uint2', bits: 2 }],
  [T.INT2, { name: 'int2', bits: 2 }],
]);

export function dtypeToElemType(dtype: DType): number {
  return DTYPE_TO_CODE[dtype];
}

/** The DType for an ONNX element type code, or null when our IR has no such dtype. */
export function elemTypeToDtype(code: number): DType | null {
  for (const [dtype, c] of Object.entries(DTYPE_TO_CODE) as [DType, number][]) {
    if (c === code) return dtype;
  }
  return null;
}

/** 'float32', 'float16', …; `unknown(<code>)` for codes newer than this table. */
export function elemTypeName(code: number): string {
  return ELEM_TYPES.get(code)?.name ?? `unknown(${code})`;
}

/** Storage size in bits per element (0 for strings and unknown codes). */
export function elemTypeBits(code: number): number {
  return ELEM_TYPES.get(code)?.bits ?? 0;
}
