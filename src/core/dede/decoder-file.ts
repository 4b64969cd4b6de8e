// The decoder file: a standard ONNX inference model (weights as initializers) that other tools can
// run as is, with the decoder config, training settings and a format version in metadata_props.
// Import is strict (docs/ARCHITECTURE.md §10: files load strictly): every problem names the
// tensor or metadata field, and nothing is guessed, padded or silently dropped.

import { fmtShape } from '../onnx/shape-rules';
import { OnnxFormatError } from '../onnx/errors';
import type { Initializer, Model, ValueInfo } from '../onnx/graph';
import { parseModel } from '../onnx/parse';
import { readoutRecordProblem, type ReadoutRecord } from '../onnx/readout';
import { serializeModel } from '../onnx/serialize';
import { configProblems, type DecoderConfig } from './config';
import { decoderParamSpecs, type DecoderWeights } from './params';
import { buildScorerModel, SCORE_MASK_RATIO, type ScorerOutputName } from './scorer';
import type { TrainingPlan, TrainingResult } from './train-loop';
import { errorText } from '../runtime/error-text';

export const DECODER_FORMAT = 'dede-decoder';
/** Bump on any change that an older reader would misread; readers accept only versions they know. */
export const DECODER_FORMAT_VERSION = 1;

/** metadata_props keys; JSON values except format and version. */
export const DECODER_META_KEYS = {
  format: 'dede.format',
  version: 'dede.format_version',
  config: 'dede.decoder_config',
  training: 'dede.training',
  encoder: 'dede.encoder',
  graph: 'dede.graph',
  createdAt: 'dede.created_at',
} as const;

/** Outputs of the exported model, in order (see ScorerOutputName for their meaning). */
export const DECODER_FILE_OUTPUTS: readonly ScorerOutputName[] = ['pred', 'reconstruction', 'dedeScore', 'patchError', 'pixelError', 'masked'];

/** How the decoder was trained (all but maskRatio optional: files may come from other trainers). */
export interface DecoderTrainingInfo {
  readonly maskRatio: number;
  /** Share of each batch trained with no visible patch (absent: 0, the paper's recipe). */
  readonly blindShare?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  readonly steps?: number;
  readonly epochs?: number;
  readonly elapsedSeconds?: number;
  readonly finalLoss?: number;
  readonly trainImages?: number;
  readonly dataset?: string;
  /** Why training stopped: 'epochs', 'time' or 'converged' (docs/ARCHITECTURE.md §8.5). */
  readonly stoppedBy?: string;
  /** The epoch the convergence rule stopped at (absent: it did not stop the run). */
  readonly convergedAtEpoch?: number;
  /** The held-back images' mean score at the last epoch end. */
  readonly heldBackLoss?: number;
}

/** The frozen encoder the decoder was trained against (a decoder is only valid with it). */
export interface EncoderRef {
  readonly name?: string;
  readonly sha256?: string;
  /** Name of the encoder output used as the embedding (readout.output, kept for older readers). */
  readonly output?: string;
  /** The output, its pooling to [N, D], why it was chosen and the embedding size (absent in older files). */
  readonly readout?: ReadoutRecord;
}

export interface DecoderMeta {
  readonly training: DecoderTrainingInfo;
  readonly encoder?: EncoderRef;
  /** ISO 8601. */
  readonly createdAt?: string;
}

/** Static shapes of the exported graph (our graphs have no dynamic dimensions). */
export interface DecoderGraphInfo {
  readonly batch: number;
  readonly maskRatio: number;
}

export interface ImportedDecoder {
  readonly cfg: DecoderConfig;
  readonly weights: Readonly<Record<string, Float32Array>>;
  readonly meta: DecoderMeta;
  readonly graph: DecoderGraphInfo;
}

export class DecoderFileError extends Error {
  override readonly name = 'DecoderFileError';
  constructor(
    message: string,
    /** Each problem, naming its tensor or metadata field. */
    readonly problems: readonly string[] = [message],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- export -----------------------------------------------------------------------------------

/**
 * ONNX bytes of the inference model: inputs `images` [B,C,H,W], `embedding` [B,embedDim] and, when
 * the graph's mask ratio leaves Tk > 0 visible patches, `keep` [B,Tk,T]; outputs DECODER_FILE_OUTPUTS.
 * Defaults: B = 1, the scoring ratio 0.99. Every weight is stored, the patch branch included even
 * where Tk = 0 leaves it unused, so the file is a complete checkpoint.
 */
export function exportDecoder(cfg: DecoderConfig, weights: DecoderWeights, meta: DecoderMeta, graph: Partial<DecoderGraphInfo> = {}): Uint8Array {
  checkTrainingInfo(meta.training);
  const info: DecoderGraphInfo = { batch: graph.batch ?? 1, maskRatio: graph.maskRatio ?? SCORE_MASK_RATIO };
  return serializeModel(expectedModel(cfg, weights, info, metadataFor(cfg, meta, info)));
}

function expectedModel(cfg: DecoderConfig, weights: DecoderWeights, info: DecoderGraphInfo, metadata?: Record<string, string>): Model {
  return buildScorerModel(cfg, weights, { ...info, outputs: DECODER_FILE_OUTPUTS, allWeights: true, name: 'dede_decoder', ...(metadata ? { metadata } : {}) });
}

function metadataFor(cfg: DecoderConfig, meta: DecoderMeta, info: DecoderGraphInfo): Record<string, string> {
  const k = DECODER_META_KEYS;
  const md: Record<string, string> = {
    [k.format]: DECODER_FORMAT,
    [k.version]: String(DECODER_FORMAT_VERSION),
    [k.config]: JSON.stringify(pickConfig(cfg)),
    [k.training]: JSON.stringify(meta.training),
    [k.graph]: JSON.stringify(info),
  };
  if (meta.encoder) md[k.encoder] = JSON.stringify(meta.encoder);
  if (meta.createdAt !== undefined) md[k.createdAt] = meta.createdAt;
  return md;
}

/** Training settings and outcome of a finished run, for DecoderMeta.training. */
export function trainingInfoFrom(plan: Omit<TrainingPlan, 'cfg'>, result: Pick<TrainingResult, 'steps' | 'epochs' | 'elapsedSeconds' | 'losses'> & Partial<Pick<TrainingResult, 'stoppedBy' | 'convergedAt' | 'heldBack'>>, trainImages?: number): DecoderTrainingInfo {
  const last = result.losses[result.losses.length - 1];
  const heldBack = result.heldBack?.at(-1);
  return {
    maskRatio: plan.maskRatio,
    ...(plan.blindShare > 0 ? { blindShare: plan.blindShare } : {}),
    batchSize: plan.batchSize,
    lr: plan.lr,
    seed: plan.seed,
    steps: result.steps,
    epochs: result.epochs,
    elapsedSeconds: result.elapsedSeconds,
    ...(last ? { finalLoss: last.loss } : {}),
    ...(trainImages !== undefined ? { trainImages } : {}),
    ...(result.stoppedBy ? { stoppedBy: result.stoppedBy } : {}),
    ...(result.convergedAt != null ? { convergedAtEpoch: result.convergedAt } : {}),
    ...(heldBack ? { heldBackLoss: heldBack.loss } : {}),
  };
}

// ---- field schemas (what the metadata JSON may hold) ---------------------------------------------

type FieldKind = 'integer' | 'number' | 'string' | 'readout';

const CONFIG_FIELDS: Readonly<Record<keyof DecoderConfig, FieldKind>> = {
  imageSize: 'integer',
  patchSize: 'integer',
  channels: 'integer',
  embedDim: 'integer',
  encDim: 'integer',
  encDepth: 'integer',
  encHeads: 'integer',
  decDim: 'integer',
  decDepth: 'integer',
  decHeads: 'integer',
  mlpRatio: 'integer',
  lnEps: 'number',
};

const TRAINING_FIELDS: Readonly<Record<keyof DecoderTrainingInfo, FieldKind>> = {
  maskRatio: 'number',
  blindShare: 'number',
  batchSize: 'integer',
  lr: 'number',
  weightDecay: 'number',
  seed: 'integer',
  steps: 'integer',
  epochs: 'number',
  elapsedSeconds: 'number',
  finalLoss: 'number',
  trainImages: 'integer',
  dataset: 'string',
  stoppedBy: 'string',
  convergedAtEpoch: 'integer',
  heldBackLoss: 'number',
};

const ENCODER_FIELDS: Readonly<Record<keyof EncoderRef, FieldKind>> = { name: 'string', sha256: 'string', output: 'string', readout: 'readout' };

const GRAPH_FIELDS: Readonly<Record<keyof DecoderGraphInfo, FieldKind>> = { batch: 'integer', maskRatio: 'number' };

/** Only the config's own fields, in a fixed order (a frozen config object may carry nothing else). */
function pickConfig(cfg: DecoderConfig): DecoderConfig {
  const out: Record<string, number> = {};
  for (const k of Object.keys(CONFIG_FIELDS) as (keyof DecoderConfig)[]) out[k] = cfg[k];
  return out as unknown as DecoderConfig;
}

function fieldProblem(where: string, key: string, value: unknown, kind: FieldKind): string | null {
  if (kind === 'readout') return readoutRecordProblem(`${where}.${key}`, value);
  const ok = kind === 'string' ? typeof value === 'string' : typeof value === 'number' && Number.isFinite(value) && (kind === 'number' || Number.isInteger(value));
  return ok ? null : `${where}.${key} must be ${kind === 'integer' ? 'an integer' : `a ${kind}`}, got ${JSON.stringify(value)}`;
}

/** Problems of a JSON object against a schema: unknown fields, missing required ones, wrong types. */
function schemaProblems(where: string, obj: unknown, fields: Readonly<Record<string, FieldKind>>, required: readonly string[]): string[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [`${where} must be a JSON object`];
  const rec = obj as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(rec)) {
    const kind = fields[key];
    if (kind === undefined) problems.push(`${where}.${key} is not a known field`);
    else {
      const p = fieldProblem(where, key, rec[key], kind);
      if (p) problems.push(p);
    }
  }
  for (const key of required) if (!(key in rec)) problems.push(`${where}.${key} is missing`);
  return problems;
}

function checkTrainingInfo(t: DecoderTrainingInfo): void {
  const problems = schemaProblems('training', t, TRAINING_FIELDS, ['maskRatio']);
  if (problems.length > 0) throw new DecoderFileError(`invalid decoder metadata: ${problems.join('; ')}`, problems);
}

// ---- import -----------------------------------------------------------------------------------

/**
 * Reads a decoder file written by exportDecoder. Throws DecoderFileError when the bytes are not
 * ONNX, lack the DeDe metadata, carry an unknown format version, or when the config, the tensors
 * and the graph disagree in any way (missing/extra tensors, wrong shape or type, non-finite values).
 */
export function importDecoder(bytes: Uint8Array): ImportedDecoder {
  const model = parseOnnx(bytes);
  const md = model.metadata ?? {};
  checkFormat(md);
  const cfg = readConfig(md);
  const meta = readMeta(md);
  const graph = readObject<DecoderGraphInfo>(md, DECODER_META_KEYS.graph, GRAPH_FIELDS, ['batch', 'maskRatio']);
  const weights = readWeights(cfg, model.graph.initializers);
  checkGraphMatches(model, rebuild(cfg, weights, graph));
  return { cfg, weights, meta, graph };
}

function parseOnnx(bytes: Uint8Array): Model {
  try {
    return parseModel(bytes);
  } catch (e) {
    if (e instanceof OnnxFormatError) throw new DecoderFileError(`not a decoder file: ${e.message}`, undefined, { cause: e });
    throw e;
  }
}

function checkFormat(md: Readonly<Record<string, string>>): void {
  const k = DECODER_META_KEYS;
  if (md[k.format] !== DECODER_FORMAT) {
    const got = md[k.format] === undefined ? 'has no' : `has ${JSON.stringify(md[k.format])} as`;
    throw new DecoderFileError(`not a DeDe decoder file: the model ${got} metadata ${k.format} (expected "${DECODER_FORMAT}")`);
  }
  const version = md[k.version];
  if (version !== String(DECODER_FORMAT_VERSION)) {
    throw new DecoderFileError(`unsupported decoder file: metadata ${k.version} is ${JSON.stringify(version ?? null)}; this version reads ${DECODER_FORMAT_VERSION}`);
  }
}

function readJson(md: Readonly<Record<string, string>>, key: string): unknown {
  const text = md[key];
  if (text === undefined) throw new DecoderFileError(`invalid decoder file: metadata ${key} is missing`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new DecoderFileError(`invalid decoder file: metadata ${key} is not valid JSON`, undefined, { cause: e });
  }
}

function readObject<T>(md: Readonly<Record<string, string>>, key: string, fields: Readonly<Record<string, FieldKind>>, required: readonly string[]): T {
  const obj = readJson(md, key);
  const problems = schemaProblems(key, obj, fields, required);
  if (problems.length > 0) throw new DecoderFileError(`invalid decoder file: ${problems.join('; ')}`, problems);
  return Object.freeze({ ...(obj as T) });
}

function readConfig(md: Readonly<Record<string, string>>): DecoderConfig {
  const key = DECODER_META_KEYS.config;
  const cfg = readObject<DecoderConfig>(md, key, CONFIG_FIELDS, Object.keys(CONFIG_FIELDS));
  const problems = configProblems(cfg).map((p) => `${key}: ${p}`);
  if (problems.length > 0) throw new DecoderFileError(`invalid decoder file: ${problems.join('; ')}`, problems);
  return cfg;
}

function readMeta(md: Readonly<Record<string, string>>): DecoderMeta {
  const k = DECODER_META_KEYS;
  const training = readObject<DecoderTrainingInfo>(md, k.training, TRAINING_FIELDS, ['maskRatio']);
  const encoder = md[k.encoder] === undefined ? undefined : readObject<EncoderRef>(md, k.encoder, ENCODER_FIELDS, []);
  const createdAt = md[k.createdAt];
  return { training, ...(encoder ? { encoder } : {}), ...(createdAt !== undefined ? { createdAt } : {}) };
}

/** The config's parameters from the initializers: each present, float32, of the config's shape, finite. */
function readWeights(cfg: DecoderConfig, inits: readonly Initializer[]): Record<string, Float32Array> {
  const byName = new Map(inits.map((t) => [t.name, t]));
  const problems: string[] = [];
  const weights: Record<string, Float32Array> = {};
  for (const spec of decoderParamSpecs(cfg)) {
    const t = byName.get(spec.name);
    if (!t) problems.push(`missing tensor ${spec.name}`);
    else if (t.dtype !== 'float32' || !(t.data instanceof Float32Array)) problems.push(`tensor ${spec.name} is ${t.dtype}, expected float32`);
    else if (fmtShape(t.shape) !== fmtShape(spec.shape)) problems.push(`tensor ${spec.name} has shape ${fmtShape(t.shape)} but ${DECODER_META_KEYS.config} implies ${fmtShape(spec.shape)}`);
    else if (!t.data.every(Number.isFinite)) problems.push(`tensor ${spec.name} holds non-finite values`);
    else weights[spec.name] = t.data.slice();
  }
  if (problems.length > 0) throw new DecoderFileError(`decoder file does not match its config: ${problems.join('; ')}`, problems);
  return weights;
}

function rebuild(cfg: DecoderConfig, weights: DecoderWeights, graph: DecoderGraphInfo): Model {
  try {
    return expectedModel(cfg, weights, graph);
  } catch (e) {
    const why = errorText(e);
    throw new DecoderFileError(`invalid decoder file: metadata ${DECODER_META_KEYS.graph} ${JSON.stringify(graph)}: ${why}`, undefined, { cause: e });
  }
}

/** The file's graph I/O and initializers must be exactly those the export of (cfg, weights) has. */
function checkGraphMatches(actual: Model, expected: Model): void {
  const problems = [
    ...valueSetProblems('input', actual.graph.inputs, expected.graph.inputs),
    ...valueSetProblems('output', actual.graph.outputs, expected.graph.outputs),
    ...valueSetProblems('tensor', actual.graph.initializers, expected.graph.initializers),
  ];
  if (problems.length > 0) throw new DecoderFileError(`decoder file does not match its config: ${problems.join('; ')}`, problems);
}

function valueSetProblems(what: string, actual: readonly ValueInfo[], expected: readonly ValueInfo[]): string[] {
  const want = new Map(expected.map((v) => [v.name, v]));
  const have = new Set(actual.map((v) => v.name));
  const problems: string[] = [];
  for (const v of actual) {
    const e = want.get(v.name);
    if (!e) problems.push(`unexpected ${what} ${v.name}`);
    else if (e.dtype !== v.dtype || fmtShape(e.shape) !== fmtShape(v.shape)) problems.push(`${what} ${v.name} is ${v.dtype}${fmtShape(v.shape)}, expected ${e.dtype}${fmtShape(e.shape)}`);
  }
  for (const e of expected) if (!have.has(e.name)) problems.push(`missing ${what} ${e.name}`);
  return problems;
}
