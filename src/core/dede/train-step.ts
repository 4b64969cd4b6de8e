// The DeDe decoder's train step: masked-MSE loss of the decoder (docs/ARCHITECTURE.md §5.1)
// differentiated by our autograd and updated with Adam(W) in the same graph, plus the batch layout
// the trainer feeds.
import { buildTrainStep, type AdamConfig, type TrainStep } from '../autograd/trainStep';
import { visibleCount, type DecoderConfig } from './config';
import { buildDecoderForward, buildDecoderLoss, declareDecoderInputs } from './model';
import { declareDecoderParams, type DecoderWeights } from './params';

export interface DecoderTrainOptions {
  readonly batch: number;
  /** Training mask ratio (default 0.9: docs/ARCHITECTURE.md §5.2). */
  readonly maskRatio: number;
  readonly weights: DecoderWeights;
  readonly adam?: Partial<AdamConfig>;
}

/** Adam, lr 1e-3, weight decay 1e-6, coupled as the reference's torch.optim.Adam (docs/ARCHITECTURE.md §5.2). */
export const DEDE_ADAM: Partial<AdamConfig> = { mode: 'adam', weightDecay: 1e-6 };

export function buildDecoderTrainStep(cfg: DecoderConfig, opts: DecoderTrainOptions): TrainStep {
  const keepCount = visibleCount(cfg, opts.maskRatio);
  if (keepCount === 0) {
    throw new Error(`Mask ratio ${opts.maskRatio} leaves no visible patch out of ${cfg.imageSize / cfg.patchSize}² in training; use a lower ratio (the default is 0.9).`);
  }
  return buildTrainStep(
    (b) => {
      const params = declareDecoderParams(b, cfg, opts.weights, { patchBranch: true });
      const inputs = declareDecoderInputs(b, cfg, opts.batch, keepCount);
      return buildDecoderLoss(b, buildDecoderForward(b, cfg, params, inputs), opts.maskRatio);
    },
    { ...DEDE_ADAM, ...opts.adam },
    'dede_decoder_train_step',
  );
}
