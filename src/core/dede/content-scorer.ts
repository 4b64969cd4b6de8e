// The encoder and decoder calls behind the content score (docs/ARCHITECTURE.md §5.3.1): per image,
// the decoder's reconstruction x̂ from E(x) (with the paper's dedeScore and the median patch error,
// scorer.ts), then two more encoder calls, E(x̂) (x̂ resized to the encoder's input) and E(flip x).
// The caller gives the inputs it already has: the decoder-size images, the encoder-size images and
// E(x); content-score.ts turns the components into the decoderScore.
import type { Runtime } from '../runtime/session';
import { throwIfCancelled } from '../runtime/cancel';
import type { DecoderConfig } from './config';
import { type ContentComponents, cosineDistance, flipHorizontal, lowPassError, resizeBilinear } from './content-score';
import { type EncoderCall, EncoderRunner, type EncoderSource, type EncoderSpec } from './encoder-runner';
import type { DecoderWeights } from './params';
import type { Rng } from './rng';
import { type ImageScore, Scorer, type ScoreRequest, type ScorerSettings } from './scorer';

export interface ContentBatch {
  /** [n, C, S, S] normalised at the decoder's size. */
  readonly decoderImages: Float32Array;
  /** [n, 3, H, W] normalised at the encoder's input size (what E(x) was computed from). */
  readonly encoderImages: Float32Array;
  /** [n, D] E(x). */
  readonly embeddings: Float32Array;
}

export interface ContentImageScore {
  /** The decoder's scores of scorer.ts: `score` (median patch error) and the paper's `dedeScore`. */
  readonly decoder: ImageScore;
  readonly components: ContentComponents;
}

export class ContentScorer {
  private constructor(
    readonly scorer: Scorer,
    private readonly encoder: EncoderRunner,
    private readonly spec: EncoderCall,
  ) {}

  /** `encoderRuntime`: where the encoder runs when not with the decoder (the CLI's --device). */
  static create(runtime: Runtime, cfg: DecoderConfig, weights: DecoderWeights, encoder: EncoderSpec, settings: ScorerSettings = {}, encoderRuntime: Runtime = runtime): Promise<ContentScorer> {
    return ContentScorer.start(runtime, cfg, weights, settings, null, encoder, () => EncoderRunner.create(encoderRuntime, encoder, settings.batch ?? 16));
  }

  /** With sessions kept by identity (the model worker, docs/ARCHITECTURE.md §3.3): the decoder's by `decoderIdentity`, the encoder's by its hash. */
  static open(runtime: Runtime, cfg: DecoderConfig, weights: DecoderWeights, encoder: EncoderSource, settings: ScorerSettings = {}, decoderIdentity: string | null = null): Promise<ContentScorer> {
    return ContentScorer.start(runtime, cfg, weights, settings, decoderIdentity, encoder.spec, () => EncoderRunner.open(runtime, encoder, settings.batch ?? 16));
  }

  private static async start(runtime: Runtime, cfg: DecoderConfig, weights: DecoderWeights, settings: ScorerSettings, identity: string | null, call: EncoderCall, encoder: () => Promise<EncoderRunner>): Promise<ContentScorer> {
    const scorer = await Scorer.create(runtime, cfg, weights, settings, identity);
    try {
      return new ContentScorer(scorer, await encoder(), call);
    } catch (e) {
      await scorer.dispose();
      throw e;
    }
  }

  async scoreBatch(batch: ContentBatch, rng?: Rng, request: Omit<ScoreRequest, 'reconstruction'> = {}): Promise<ContentImageScore[]> {
    const { channels: C, imageSize: S, embedDim: D } = this.scorer.cfg;
    const { height: H, width: W } = this.spec;
    const n = batch.embeddings.length / D;
    if (batch.encoderImages.length !== n * 3 * H * W) throw new Error(`ContentScorer: ${n} embeddings need ${n * 3 * H * W} encoder-input values ([${n},3,${H},${W}]), got ${batch.encoderImages.length}`);
    if (C !== 3) throw new Error(`ContentScorer: the decoder draws ${C} channels; the encoder reads 3`);
    const decoded = await this.scorer.scoreBatch(batch.decoderImages, batch.embeddings, rng, { ...request, reconstruction: true });
    throwIfCancelled(request.signal);
    const recon = new Float32Array(n * C * S * S);
    decoded.forEach((d, i) => recon.set(d.reconstruction!, i * C * S * S));
    const embRecon = (await this.encoder.embed(resizeBilinear(recon, C, S, S, H, W), n, request.signal)).data;
    const embFlip = (await this.encoder.embed(flipHorizontal(batch.encoderImages, 3, H, W), n, request.signal)).data;
    return decoded.map((d, i) => {
      const e = batch.embeddings.subarray(i * D, (i + 1) * D);
      const { reconstruction: _r, ...decoder } = d;
      return {
        decoder,
        components: {
          semantic: cosineDistance(e, embRecon.subarray(i * D, (i + 1) * D)),
          lowPass: lowPassError(batch.decoderImages.subarray(i * C * S * S, (i + 1) * C * S * S), recon.subarray(i * C * S * S, (i + 1) * C * S * S), C, S, S),
          flip: cosineDistance(e, embFlip.subarray(i * D, (i + 1) * D)),
        },
      };
    });
  }

  async dispose(): Promise<void> {
    await this.scorer.dispose();
    await this.encoder.dispose();
  }
}
