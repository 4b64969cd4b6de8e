// The bad-input corpus: images, ONNX files and hostile file names that users really produce
// (truncated downloads, renamed files, decompression bombs, text models, spreadsheet formulas in
// names), each with the outcome the app must give. Deterministic: one seed, no clock, so a failing
// case is the same file every run. Node only (sharp encodes the JPEG/WebP originals).
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataLocation, TensorProto_DataType } from 'onnx-buf';
import { mulberry32, type Rng } from '../../src/core/dede/rng';
import type { UnreadableKind } from '../../src/core/images/reasons';
import { DEFAULT_OPSET, type Model, type ValueInfo } from '../../src/core/onnx/graph';
import { serializeModel } from '../../src/core/onnx/serialize';
import { crc32, pngChunk } from '../../src/core/report/png';
import { encodePng, pattern, pngHeaderOnly } from '../../src/testing/image-files';
import { externalDataEncoder, tinyEncoderBytes } from '../../src/testing/tiny-encoder';
import { concatArrays } from '../../src/core/concat';

export const FUZZ_SEED = 20251125;

/** What the app must make of an image file. */
export type ImageExpectation =
  | { readonly outcome: 'ok'; readonly note?: RegExp }
  /** `by`: refused from its bytes and header alone, or only once a decoder fails on it. */
  | { readonly outcome: 'unreadable'; readonly kind: UnreadableKind; readonly reason: RegExp; readonly by: 'header' | 'decoder' };

export interface ImageCase {
  /** Path inside the corpus image folder, '/'-separated (a hostile name may hold any other character). */
  readonly path: string;
  readonly bytes: Uint8Array;
  /** What the case stands for, in a few words (the summary table's first column). */
  readonly label: string;
  readonly expect: ImageExpectation;
}

/** What loading an .onnx file as the encoder must give: a usable encoder, or which refusal. */
export type OnnxOutcome = 'ok' | 'empty' | 'malformed' | 'refused' | 'external-data';

export interface OnnxCase {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly label: string;
  readonly outcome: OnnxOutcome;
  /** Matches the user-facing message (the refusal or error); for 'ok', the input size seen. */
  readonly message: RegExp;
  /** The outcome when loaded from a hub repo or URL, where external data files can come along. */
  readonly viaHub?: OnnxOutcome;
  /** For a model that passes inspection but cannot run: the message its test run must give. */
  readonly testRunError?: RegExp;
}

// ---------------------------------------------------------------------------------------------
// Hostile file names (all on valid, distinct images: they must load and survive every export)

/** Names that break CSV, spreadsheets, HTML, line-based lists and zip tools when not handled. */
export const HOSTILE_NAMES: readonly string[] = [
  'quote"double.png',
  "it's single.png",
  'comma,separated,name.png',
  'new\nline.png',
  'carriage\rreturn.png',
  'tab\tinside.png',
  "=cmd|' /C calc'!A0.png",
  '=HYPERLINK("evil.invalid";"x").png',
  '=2+3\nformula-then-line-break.png',
  '+1+1.png',
  '-2-2.png',
  '@SUM(A1).png',
  // The slash makes this a folder plus a file, so the path reads exactly as the markup.
  '<script>alert(1)</script>.png',
  '"><img src=x onerror=alert(1)>.png',
  '&amp; `tick` &lt;.png',
  'unicode-日本語-émoji-🎉-\u202eRTL.png',
  'semi;colon $(rm -rf) `x`.png',
  ' leading and trailing space .png',
  `${'long-name-'.repeat(22)}end.png`,
];

/** The hostile name starting with `prefix` (for tests that need one of a given kind). */
export function hostileName(prefix: string): string {
  const name = HOSTILE_NAMES.find((n) => n.startsWith(prefix));
  if (name === undefined) throw new Error(`no hostile name starts with ${prefix}`);
  return name;
}

// ---------------------------------------------------------------------------------------------
// Image bytes

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng() * 256);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return concatArrays(Uint8Array, parts);
}


const PNG_SIG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A complete, valid side×side 1-bit greyscale PNG of zeros: a few KB on disk, side² × 4 bytes once
 * a browser decodes it to RGBA (16384² → 1 GiB). The decompression bomb of the corpus.
 */
export function bombPng(side: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, side);
  view.setUint32(4, side);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = new Uint8Array(side * (1 + side / 8)); // filter byte 0 + packed bits, all zero
  return concat(PNG_SIG, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw, { level: 9 })), pngChunk('IEND', new Uint8Array(0)));
}

/**
 * A JPEG whose frame header (SOF0: 16384×16384) sits after 128 KB of APP segments, beyond the
 * first 64 KB a sniffer reads; its scan data is garbage.
 */
function lateFrameJpeg(rng: Rng): Uint8Array {
  const app = (n: number) => {
    const seg = new Uint8Array(2 + 65535);
    seg[0] = 0xff;
    seg[1] = 0xe0 + n;
    seg[2] = 0xff;
    seg[3] = 0xff;
    return seg;
  };
  const sof = Uint8Array.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0x40, 0x00, 0x40, 0x00, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
  return concat(Uint8Array.from([0xff, 0xd8]), app(1), app(2), sof, randomBytes(rng, 512));
}

/** A header that says width×height with a 0 side. */
function zeroSizePng(): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(4, 32); // width 0, height 32
  ihdr[8] = 8;
  ihdr[9] = 2;
  return concat(PNG_SIG, pngChunk('IHDR', ihdr), pngChunk('IEND', new Uint8Array(0)));
}

async function encoded(format: 'jpeg' | 'webp' | 'avif' | 'tiff', seed: number): Promise<Uint8Array> {
  const img = sharp(Buffer.from(pattern(48, 32, seed)), { raw: { width: 48, height: 32, channels: 3 } });
  return new Uint8Array(await img.toFormat(format, { quality: 90 }).toBuffer());
}

/** An AVIF whose `ispe` says 16384×16384 (its coded picture is still tiny). */
function avifClaiming(avif: Uint8Array, side: number): Uint8Array {
  const out = avif.slice();
  const view = new DataView(out.buffer);
  for (let at = 4; at + 16 <= out.length; at++) {
    if (String.fromCharCode(...out.subarray(at, at + 4)) !== 'ispe') continue;
    view.setUint32(at + 8, side);
    view.setUint32(at + 12, side);
  }
  return out;
}

/** The start of an iPhone HEIC photo: an ISO-BMFF `ftyp` box with the heic brand. */
function heicHead(rng: Rng): Uint8Array {
  return concat(Uint8Array.from([0, 0, 0, 0x18]), text('ftypheic'), Uint8Array.from([0, 0, 0, 0]), text('mif1heic'), randomBytes(rng, 300));
}

const cut = (b: Uint8Array, n: number) => b.slice(0, n);

/** Sets a RIFF file's size field to its real length (a complete file, whatever its body). */
function riffSized(b: Uint8Array): Uint8Array {
  new DataView(b.buffer, b.byteOffset).setUint32(4, b.length - 8, true);
  return b;
}
const text = (s: string) => new TextEncoder().encode(s);

/** A decoder failure; `cut` files must also be called incomplete (they lack their end marker). */
const CORRUPT = (format: string, cut: boolean) =>
  ({
    outcome: 'unreadable',
    kind: 'corrupt',
    reason: new RegExp(`^corrupt ${format}: the browser could not decode it${cut ? ' \\(the file ends early: an interrupted download or copy\\? fetch or copy it again\\)$' : '$'}`),
    by: 'decoder',
  }) as const;

export async function imageCases(seed = FUZZ_SEED): Promise<ImageCase[]> {
  const rng = mulberry32(seed);
  const png = new Uint8Array(encodePng(32, 32, pattern(32, 32, 1)));
  const jpeg = await encoded('jpeg', 2);
  const webp = await encoded('webp', 3);
  const avif = await encoded('avif', 6);
  const cases: ImageCase[] = [
    { path: 'good/gradient.png', bytes: png, label: 'valid PNG', expect: { outcome: 'ok' } },
    { path: 'good/photo.jpg', bytes: jpeg, label: 'valid JPEG', expect: { outcome: 'ok' } },
    { path: 'good/picture.webp', bytes: webp, label: 'valid WebP', expect: { outcome: 'ok' } },
    { path: 'good/picture.avif', bytes: avif, label: 'valid AVIF', expect: { outcome: 'ok' } },
    { path: 'good/png-named.jpg', bytes: new Uint8Array(encodePng(32, 32, pattern(32, 32, 4))), label: 'PNG named .jpg', expect: { outcome: 'ok', note: /^named \.jpg but is a PNG image$/ } },
    { path: 'good/no-extension', bytes: new Uint8Array(encodePng(32, 32, pattern(32, 32, 5))), label: 'PNG without extension', expect: { outcome: 'ok', note: /^has no extension but is a PNG image$/ } },

    { path: 'bad/empty.png', bytes: new Uint8Array(0), label: 'zero-byte .png', expect: { outcome: 'unreadable', kind: 'empty', reason: /^empty file \(0 bytes\)$/, by: 'header' } },
    { path: 'bad/empty.jpg', bytes: new Uint8Array(0), label: 'zero-byte .jpg', expect: { outcome: 'unreadable', kind: 'empty', reason: /^empty file \(0 bytes\)$/, by: 'header' } },
    { path: 'bad/png-signature-only.png', bytes: cut(png, 8), label: 'PNG cut after signature', expect: CORRUPT('PNG', true) },
    { path: 'bad/png-cut-in-header.png', bytes: cut(png, 20), label: 'PNG cut inside IHDR', expect: CORRUPT('PNG', true) },
    { path: 'bad/png-cut-after-header.png', bytes: cut(png, 33), label: 'PNG cut after IHDR', expect: CORRUPT('PNG', true) },
    { path: 'bad/png-cut-half.png', bytes: cut(png, png.length >> 1), label: 'PNG cut at half', expect: CORRUPT('PNG', true) },
    { path: 'bad/png-garbage-body.png', bytes: concat(cut(png, 33), pngChunk('IDAT', randomBytes(rng, 400)), pngChunk('IEND', new Uint8Array(0))), label: 'PNG, garbage pixel data', expect: CORRUPT('PNG', false) },
    { path: 'bad/png-zero-width.png', bytes: zeroSizePng(), label: 'PNG 0×32 header', expect: { outcome: 'unreadable', kind: 'corrupt', reason: /^image header says 0×32, which has no pixels$/, by: 'header' } },
    { path: 'bad/jpeg-soi-only.jpg', bytes: cut(jpeg, 3), label: 'JPEG cut after SOI', expect: CORRUPT('JPEG', true) },
    { path: 'bad/jpeg-cut-in-header.jpg', bytes: cut(jpeg, 100), label: 'JPEG cut in headers', expect: CORRUPT('JPEG', true) },
    { path: 'bad/jpeg-cut-half.jpg', bytes: cut(jpeg, jpeg.length >> 1), label: 'JPEG cut at half', expect: CORRUPT('JPEG', true) },
    { path: 'bad/jpeg-garbage-body.jpg', bytes: concat(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), randomBytes(rng, 600), Uint8Array.from([0xff, 0xd9])), label: 'JPEG, garbage between SOI and EOI', expect: CORRUPT('JPEG', false) },
    { path: 'bad/webp-cut-in-header.webp', bytes: cut(webp, 16), label: 'WebP cut in header', expect: CORRUPT('WebP', true) },
    { path: 'bad/webp-cut-half.webp', bytes: cut(webp, webp.length >> 1), label: 'WebP cut at half', expect: CORRUPT('WebP', true) },
    { path: 'bad/webp-garbage-body.webp', bytes: riffSized(concat(cut(webp, 20), randomBytes(rng, 400))), label: 'WebP, garbage body', expect: CORRUPT('WebP', false) },
    { path: 'good/limit-8192.png', bytes: bombPng(8192), label: '8192×8192 PNG (at the limit)', expect: { outcome: 'ok' } },
    { path: 'bad/bomb-16k-header.png', bytes: new Uint8Array(pngHeaderOnly(16384, 16384)), label: '16k×16k PNG header', expect: { outcome: 'unreadable', kind: 'too-large', reason: /^image is 16384×16384, larger than the 8192 px limit$/, by: 'header' } },
    { path: 'bad/bomb-16k.png', bytes: bombPng(16384), label: '16k×16k PNG bomb (1 GiB decoded)', expect: { outcome: 'unreadable', kind: 'too-large', reason: /^image is 16384×16384, larger than the 8192 px limit$/, by: 'header' } },
    { path: 'bad/bomb-16k-late-header.jpg', bytes: lateFrameJpeg(rng), label: '16k×16k JPEG, SOF after 128 KB', expect: { outcome: 'unreadable', kind: 'too-large', reason: /^image is 16384×16384, larger than the 8192 px limit$/, by: 'header' } },
    { path: 'bad/bomb-16k.avif', bytes: avifClaiming(avif, 16384), label: '16k×16k AVIF header', expect: { outcome: 'unreadable', kind: 'too-large', reason: /^image is 16384×16384, larger than the 8192 px limit$/, by: 'header' } },
    { path: 'bad/scan.tiff', bytes: await encoded('tiff', 7), label: 'valid TIFF', expect: { outcome: 'unreadable', kind: 'unsupported', reason: /^not an image \(looks like a TIFF image\); browsers cannot decode TIFF; export it as PNG$/, by: 'header' } },
    { path: 'bad/IMG_0001.HEIC', bytes: heicHead(rng), label: 'HEIC photo', expect: { outcome: 'unreadable', kind: 'unsupported', reason: /^not an image \(looks like a HEIC photo\); this browser cannot decode HEIC; export it as JPEG or PNG$/, by: 'header' } },
    { path: 'bad/text-named.png', bytes: text('name,label\ncat.png,cat\n'), label: 'text named .png', expect: { outcome: 'unreadable', kind: 'not-image', reason: /^not an image \(looks like text\)$/, by: 'header' } },
    { path: 'bad/notes.txt', bytes: text('These are my notes about the dataset.\n'), label: '.txt file', expect: { outcome: 'unreadable', kind: 'not-image', reason: /^not an image \(looks like text\)$/, by: 'header' } },
    { path: 'bad/paper.pdf', bytes: text('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n'), label: 'PDF', expect: { outcome: 'unreadable', kind: 'not-image', reason: /^not an image \(looks like a PDF\)$/, by: 'header' } },
    { path: 'bad/model.onnx', bytes: tinyEncoderBytes().slice(0, 4096), label: 'ONNX among images', expect: { outcome: 'unreadable', kind: 'not-image', reason: /^not an image \(unknown file type\)$/, by: 'header' } },
    { path: 'bad/random.jpg', bytes: concat(Uint8Array.of(0), randomBytes(rng, 2047)), label: 'random bytes as .jpg', expect: { outcome: 'unreadable', kind: 'not-image', reason: /^not an image \(unknown file type\)$/, by: 'header' } },
  ];
  HOSTILE_NAMES.forEach((name, i) => {
    cases.push({ path: `names/${name}`, bytes: new Uint8Array(encodePng(32, 32, pattern(32, 32, 100 + i))), label: `name ${name}`, expect: { outcome: 'ok' } });
  });
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Mutants: seeded damage to valid files, for the readers and the browser's own decoders

/** Cuts the file at a random point (3 times in 10) and overwrites 1–8 random bytes. */
export function mutate(rng: Rng, b: Uint8Array): Uint8Array {
  const out = b.slice(0, Math.max(1, Math.floor(b.length * (rng() < 0.3 ? rng() : 1))));
  const flips = 1 + Math.floor(rng() * 8);
  for (let i = 0; i < flips; i++) out[Math.floor(rng() * out.length)] = Math.floor(rng() * 256);
  return out;
}

/** `n` damaged copies of the corpus's small valid images (the 8192² one is left out: too slow). */
export function mutantImages(cases: readonly ImageCase[], n: number, seed = FUZZ_SEED): { readonly path: string; readonly bytes: Uint8Array }[] {
  const rng = mulberry32(seed + 3);
  const sources = cases.filter((c) => c.path.startsWith('good/') && c.bytes.length < 64 * 1024);
  return Array.from({ length: n }, (_, i) => {
    const from = sources[Math.floor(rng() * sources.length)]!;
    return { path: `mutant-${String(i).padStart(3, '0')}-${from.path.split('/').pop()!}`, bytes: mutate(rng, from.bytes) };
  });
}

// ---------------------------------------------------------------------------------------------
// ONNX files

function model(name: string, inputs: ValueInfo[], outputs: ValueInfo[], nodes: Model['graph']['nodes'], initializers: Model['graph']['initializers']): Uint8Array {
  return serializeModel({
    opsets: [{ domain: '', version: DEFAULT_OPSET }],
    producerName: 'dede-web fuzz corpus',
    graph: { name, inputs, outputs, initializers, nodes, valueInfo: new Map() },
  });
}

const weights = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng() * 0.1 - 0.05);

/** [N,3,H,W] with H and W dynamic: global average pool → flatten → linear, works at any size. */
function dynamicSizeEncoder(rng: Rng): Uint8Array {
  return model(
    'dynamic_hw',
    [{ name: 'pixel_values', dtype: 'float32', shape: [-1, 3, -1, -1] }],
    [{ name: 'embedding', dtype: 'float32', shape: [-1, 16] }],
    [
      { op: 'GlobalAveragePool', inputs: ['pixel_values'], outputs: ['pooled'], attrs: {} },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attrs: { axis: { kind: 'int', value: 1 } } },
      { op: 'MatMul', inputs: ['flat', 'w'], outputs: ['embedding'], attrs: {} },
    ],
    [{ name: 'w', dtype: 'float32', shape: [3, 16], data: weights(rng, 48) }],
  );
}

function flattenEncoder(rng: Rng, name: string, input: ValueInfo, features: number): Uint8Array {
  return model(
    name,
    [input],
    [{ name: 'embedding', dtype: 'float32', shape: [-1, 16] }],
    [
      { op: 'Reshape', inputs: [input.name, 'flat_shape'], outputs: ['flat'], attrs: {} },
      { op: 'MatMul', inputs: ['flat', 'w'], outputs: ['embedding'], attrs: {} },
    ],
    [
      { name: 'flat_shape', dtype: 'int64', shape: [2], data: BigInt64Array.from([-1n, BigInt(features)]) },
      { name: 'w', dtype: 'float32', shape: [features, 16], data: weights(rng, features * 16) },
    ],
  );
}

/** A BERT-like text encoder: token ids and attention mask in, pooled embedding out. */
function textEncoder(rng: Rng): Uint8Array {
  return model(
    'text_encoder',
    [
      { name: 'input_ids', dtype: 'int64', shape: [-1, 77] },
      { name: 'attention_mask', dtype: 'int64', shape: [-1, 77] },
    ],
    [{ name: 'text_embeds', dtype: 'float32', shape: [-1, 16] }],
    [
      { op: 'Gather', inputs: ['vocab', 'input_ids'], outputs: ['tokens'], attrs: {} },
      { op: 'ReduceMean', inputs: ['tokens', 'axes'], outputs: ['text_embeds'], attrs: { keepdims: { kind: 'int', value: 0 } } },
    ],
    [
      { name: 'vocab', dtype: 'float32', shape: [100, 16], data: weights(rng, 1600) },
      { name: 'axes', dtype: 'int64', shape: [1], data: BigInt64Array.from([1n]) },
    ],
  );
}

/** A well-formed encoder that needs an operator no runtime has: only running it can tell. */
function customOpEncoder(): Uint8Array {
  return serializeModel({
    opsets: [
      { domain: '', version: DEFAULT_OPSET },
      { domain: 'com.example', version: 1 },
    ],
    producerName: 'dede-web fuzz corpus',
    graph: {
      name: 'custom_op',
      inputs: [{ name: 'pixel_values', dtype: 'float32', shape: [-1, 3, 32, 32] }],
      outputs: [{ name: 'embedding', dtype: 'float32', shape: [-1, 3] }],
      initializers: [],
      nodes: [
        { op: 'MysteryPool', domain: 'com.example', inputs: ['pixel_values'], outputs: ['pooled'], attrs: {} },
        { op: 'Flatten', inputs: ['pooled'], outputs: ['embedding'], attrs: { axis: { kind: 'int', value: 1 } } },
      ],
      valueInfo: new Map(),
    },
  });
}

/** CLIP exported whole: token ids beside the pixels. */
function jointTextImageModel(rng: Rng): Uint8Array {
  return model(
    'clip_joint',
    [
      { name: 'input_ids', dtype: 'int64', shape: [-1, 77] },
      { name: 'pixel_values', dtype: 'float32', shape: [-1, 3, 32, 32] },
    ],
    [{ name: 'image_embeds', dtype: 'float32', shape: [-1, 3] }],
    [
      { op: 'GlobalAveragePool', inputs: ['pixel_values'], outputs: ['pooled'], attrs: {} },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['image_embeds'], attrs: { axis: { kind: 'int', value: 1 } } },
    ],
    [],
  );
}

/** A feature extractor that stops at a pooled feature map [N,3,1,1]: read as [N,3] (flattened). */
function featureMapModel(): Uint8Array {
  return model(
    'feature_map',
    [{ name: 'pixel_values', dtype: 'float32', shape: [-1, 3, 32, 32] }],
    [{ name: 'pooled', dtype: 'float32', shape: [-1, 3, 1, 1] }],
    [{ op: 'GlobalAveragePool', inputs: ['pixel_values'], outputs: ['pooled'], attrs: {} }],
    [],
  );
}

/** The tiny encoder with its weights declared in an absent 3 GB `model.onnx_data`. */
function hugeExternalEncoder(): Uint8Array {
  const proto = fromBinary(ModelProtoSchema, tinyEncoderBytes());
  const w = proto.graph!.initializer.find((t) => t.name === 'w')!;
  w.rawData = new Uint8Array(0);
  w.dims = [3072n, 262144n]; // 3 GiB of float32
  w.dataLocation = TensorProto_DataLocation.EXTERNAL;
  w.externalData = [
    { $typeName: 'onnx.StringStringEntryProto', key: 'location', value: 'model.onnx_data' },
    { $typeName: 'onnx.StringStringEntryProto', key: 'offset', value: '0' },
    { $typeName: 'onnx.StringStringEntryProto', key: 'length', value: String(3072 * 262144 * 4) },
  ];
  return toBinary(ModelProtoSchema, proto);
}

/** The tiny encoder with a float64 image input (the IR has no float64, so edited on the proto). */
function float64Encoder(): Uint8Array {
  const proto = fromBinary(ModelProtoSchema, tinyEncoderBytes());
  const input = proto.graph!.input[0]!;
  if (input.type?.value.case === 'tensorType') input.type.value.value.elemType = TensorProto_DataType.DOUBLE;
  return toBinary(ModelProtoSchema, proto);
}

/** A classifier that returns only class ids: no output can be an embedding. */
function labelsOnlyModel(): Uint8Array {
  return model(
    'labels_only',
    [{ name: 'pixel_values', dtype: 'float32', shape: [-1, 3, 32, 32] }],
    [{ name: 'label', dtype: 'int64', shape: [-1, 1] }],
    [
      { op: 'GlobalAveragePool', inputs: ['pixel_values'], outputs: ['pooled'], attrs: {} },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attrs: { axis: { kind: 'int', value: 1 } } },
      { op: 'ArgMax', inputs: ['flat'], outputs: ['label'], attrs: { axis: { kind: 'int', value: 1 } } },
    ],
    [],
  );
}

export function onnxCases(seed = FUZZ_SEED): OnnxCase[] {
  const rng = mulberry32(seed + 1);
  const tiny = tinyEncoderBytes();
  const truncated = (fraction: number): OnnxCase => ({
    name: `truncated-${Math.round(fraction * 100)}pct.onnx`,
    bytes: tiny.slice(0, Math.floor(tiny.length * fraction)),
    label: `encoder cut at ${Math.round(fraction * 100)}%`,
    outcome: 'malformed',
    message: /is not a usable ONNX model: this file is not a valid ONNX model: .*(truncated|ends in the middle)/,
  });
  return [
    { name: 'tiny-encoder.onnx', bytes: tiny, label: 'valid encoder [N,3,32,32]', outcome: 'ok', message: /^32×32$/ },
    { name: 'dynamic-size.onnx', bytes: dynamicSizeEncoder(rng), label: 'dynamic H, W', outcome: 'ok', message: /^dynamic$/ },
    { name: 'empty.onnx', bytes: new Uint8Array(0), label: 'zero-byte .onnx', outcome: 'empty', message: /^empty\.onnx is empty \(0 bytes\)\.$/ },
    { name: 'random.onnx', bytes: randomBytes(rng, 4096), label: 'random bytes as .onnx', outcome: 'malformed', message: /^random\.onnx is not a usable ONNX model: this file is not a valid ONNX model: / },
    truncated(0.02),
    truncated(0.5),
    truncated(0.98),
    { name: 'photo.onnx', bytes: new Uint8Array(encodePng(8, 8, pattern(8, 8, 1))), label: 'PNG named .onnx', outcome: 'malformed', message: /^photo\.onnx is not a usable ONNX model: this file is an image, not an ONNX model$/ },
    { name: 'error-page.onnx', bytes: text('<!doctype html><html><body>Sign in to continue</body></html>'), label: 'HTML page named .onnx', outcome: 'malformed', message: /this file is a web page \(HTML\), maybe a download error page, not an ONNX model$/ },
    { name: 'rank3.onnx', bytes: flattenEncoder(rng, 'rank3', { name: 'pixel_values', dtype: 'float32', shape: [-1, 3, 32] }, 96), label: 'input rank 3 [N,3,H]', outcome: 'refused', message: /^input 'pixel_values' is shaped \[\?, 3, 32\] \(rank 3\); expected float32 images shaped \[batch, 3, height, width\]\.$/ },
    { name: 'nhwc.onnx', bytes: flattenEncoder(rng, 'nhwc', { name: 'pixel_values', dtype: 'float32', shape: [-1, 32, 32, 3] }, 3072), label: 'channels-last [N,H,W,3]', outcome: 'refused', message: /channels last \(NHWC\)/ },
    { name: 'text-encoder.onnx', bytes: textEncoder(rng), label: 'text encoder (int64 input_ids)', outcome: 'refused', message: /looks like a text model/ },
    { name: 'float64.onnx', bytes: float64Encoder(), label: 'float64 image input', outcome: 'refused', message: /^input 'pixel_values' holds float64, which the browser runtime cannot feed images in; export the encoder in float32/ },
    { name: 'custom-op.onnx', bytes: customOpEncoder(), label: 'unknown operator com.example:MysteryPool', outcome: 'ok', message: /^32×32$/, testRunError: /MysteryPool/ },
    { name: 'clip-joint.onnx', bytes: jointTextImageModel(rng), label: 'joint text-image (CLIP) model', outcome: 'refused', message: /^the model has 2 inputs \('input_ids', 'pixel_values'\); .*this looks like a joint text-image model \(CLIP-style\); pick its vision \(image\) encoder \.onnx\.$/ },
    { name: 'feature-map.onnx', bytes: featureMapModel(), label: 'output [N,3,1,1], flattened', outcome: 'ok', message: /^32×32$/ },
    { name: 'labels-only.onnx', bytes: labelsOnlyModel(), label: 'int64 class ids, no embedding', outcome: 'refused', message: /^no output can be read as an embedding: expected a float32 or float16 output .*\(outputs found: 'label' is int64 \[\?, 1\]\)\.$/ },
    { name: 'external-weights.onnx', bytes: externalDataEncoder().model, label: 'external weights, .onnx alone', outcome: 'external-data', message: /keeps its weights in separate files \(model\.onnx_data, 1\.6 MB\); load it from its hub repo or URL instead/, viaHub: 'ok' },
    { name: 'huge-external.onnx', bytes: hugeExternalEncoder(), label: '3 GiB external data, absent', outcome: 'external-data', message: /model\.onnx_data, 3\.2 GB, more than the 2\.1 GB a browser can load/, viaHub: 'external-data' },
  ];
}
