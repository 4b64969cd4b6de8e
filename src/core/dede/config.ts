// Decoder hyper-parameters (docs/ARCHITECTURE.md §5.1) and the shape arithmetic derived from them.

export interface DecoderConfig {
  readonly imageSize: number;
  readonly patchSize: number;
  readonly channels: number;
  /** d_emb: width of the frozen SSL encoder's embedding E(x). */
  readonly embedDim: number;
  /** Patch branch (MAE encoder) width, depth and heads. */
  readonly encDim: number;
  readonly encDepth: number;
  readonly encHeads: number;
  readonly decDim: number;
  readonly decDepth: number;
  readonly decHeads: number;
  readonly mlpRatio: number;
  readonly lnEps: number;
}

/** A config without the encoder-specific embedding width. */
export type DecoderPreset = Omit<DecoderConfig, 'embedDim'>;

/** Fields that have defaults (channels 3, mlpRatio 4, lnEps 1e-5) may be omitted. */
export type DecoderConfigInput = Omit<DecoderConfig, 'channels' | 'mlpRatio' | 'lnEps'> &
  Partial<Pick<DecoderConfig, 'channels' | 'mlpRatio' | 'lnEps'>>;

/** Laptop default: docs/ARCHITECTURE.md §8.2 (more epochs beat more depth on a CPU budget). */
export const SMALL_DECODER: DecoderPreset = Object.freeze({
  imageSize: 32,
  patchSize: 4,
  channels: 3,
  encDim: 128,
  encDepth: 1,
  encHeads: 4,
  decDim: 128,
  decDepth: 2,
  decHeads: 4,
  mlpRatio: 4,
  lnEps: 1e-5,
});

/** The reference DeDe configuration (12-block patch branch, 4-block decoder, dim 192). */
export const FULL_DECODER: DecoderPreset = Object.freeze({
  imageSize: 32,
  patchSize: 4,
  channels: 3,
  encDim: 192,
  encDepth: 12,
  encHeads: 3,
  decDim: 192,
  decDepth: 4,
  decHeads: 3,
  mlpRatio: 4,
  lnEps: 1e-5,
});

/** Fill defaults and validate; throws one error listing every problem. */
export function defineDecoderConfig(input: DecoderConfigInput): DecoderConfig {
  const cfg: DecoderConfig = { channels: 3, mlpRatio: 4, lnEps: 1e-5, ...input };
  const problems = configProblems(cfg);
  if (problems.length > 0) throw new Error(`invalid decoder config: ${problems.join('; ')}`);
  return Object.freeze(cfg);
}

export function presetConfig(preset: DecoderPreset, embedDim: number): DecoderConfig {
  return defineDecoderConfig({ ...preset, embedDim });
}

/** Human-readable list of what is wrong with `cfg` (empty when valid). */
export function configProblems(cfg: DecoderConfig): string[] {
  const p: string[] = [];
  const positive = ['imageSize', 'patchSize', 'channels', 'embedDim', 'encDim', 'encHeads', 'decDim', 'decHeads', 'mlpRatio'] as const;
  for (const k of positive) if (!Number.isInteger(cfg[k]) || cfg[k] < 1) p.push(`${k} must be a positive integer, got ${cfg[k]}`);
  for (const k of ['encDepth', 'decDepth'] as const) if (!Number.isInteger(cfg[k]) || cfg[k] < 0) p.push(`${k} must be a non-negative integer, got ${cfg[k]}`);
  if (!(cfg.lnEps > 0)) p.push(`lnEps must be > 0, got ${cfg.lnEps}`);
  if (p.length > 0) return p;
  if (cfg.imageSize % cfg.patchSize !== 0) p.push(`imageSize ${cfg.imageSize} is not divisible by patchSize ${cfg.patchSize}`);
  if (cfg.encDim % cfg.encHeads !== 0) p.push(`encDim ${cfg.encDim} is not divisible by encHeads ${cfg.encHeads}`);
  if (cfg.decDim % cfg.decHeads !== 0) p.push(`decDim ${cfg.decDim} is not divisible by decHeads ${cfg.decHeads}`);
  return p;
}

/** Patches per side. */
export function gridSize(cfg: DecoderConfig): number {
  return cfg.imageSize / cfg.patchSize;
}

/** T: patches per image. */
export function numPatches(cfg: DecoderConfig): number {
  return gridSize(cfg) ** 2;
}

/** Length of one flattened patch vector (c, p1, p2). */
export function patchDim(cfg: DecoderConfig): number {
  return cfg.channels * cfg.patchSize * cfg.patchSize;
}

/**
 * Tk = floor(T·(1−ratio)), computed exactly as the reference (`int(L * (1 - mask_ratio))`) so
 * both sides agree on float rounding. ratio 0.99 with 64 patches gives 0 visible patches.
 */
export function visibleCount(cfg: DecoderConfig, maskRatio: number): number {
  if (!(maskRatio > 0 && maskRatio <= 1)) throw new Error(`mask ratio must be in (0, 1], got ${maskRatio}`);
  return Math.floor(numPatches(cfg) * (1 - maskRatio));
}
