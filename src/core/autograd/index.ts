// Public surface of the training engine: reverse-mode gradients over GraphBuilder graphs and the
// one-graph-per-step train step (forward + backward + clipping + Adam/AdamW).
export { gradients, type GradientOptions } from './gradients';
export { BACKWARD_OPS, GRAD_RULES, unbroadcast } from './rules';
export type { GradContext, GradRule } from './grad-rule';
export { checkGradients, lcg, type GradCheckInput, type GradCheckOptions, type GradCheckResult } from './gradcheck';
export {
  DEFAULT_ADAM,
  buildInference,
  buildTrainStep,
  carryState,
  initialState,
  scheduleFeeds,
  toTrainGraph,
  trainNames,
  type AdamConfig,
  type LossFn,
  type TrainStep,
} from './trainStep';
export { gelu } from './composites';
