import { describe, expect, it } from 'vitest';
import { clipVisionBytes, hfConfig, resnetModelBytes, vitModelBytes, withIoType } from '../../testing/hf-encoders';
import { tinyEncoderBytes } from '../../testing/tiny-encoder';
import { checkImageEncoder } from './encoder-policy';
import { inspectModel } from './inspect';
import { chosenReadout, defaultReadout, describeReadoutRecord, parseReadoutFlag, readoutCandidates, readoutKey, readoutOptions, readoutRecordProblem, type DefaultReadout } from './readout';

const vit = inspectModel(vitModelBytes());
const clip = inspectModel(clipVisionBytes());
const resnet = inspectModel(resnetModelBytes());
const resnetMapOnly = inspectModel(resnetModelBytes({ pooler: false }));

/** The chosen (output, pooling), or 'ask'. */
const picked = (d: DefaultReadout) => (d.ok ? `${d.choice.output}:${d.choice.pooling}` : 'ask');

describe('readoutCandidates', () => {
  it('lists every float output of an embedding shape with the poolings it allows and its size', () => {
    expect(readoutCandidates(vit)).toEqual([
      { output: 'last_hidden_state', elemType: 'float32', dims: ['batch_size', 17, 16], poolings: ['cls', 'patch-mean'], dim: 16 },
      { output: 'pooler_output', elemType: 'float32', dims: ['batch_size', 16], poolings: ['none'], dim: 16 },
    ]);
    expect(readoutCandidates(resnet)).toEqual([
      { output: 'last_hidden_state', elemType: 'float32', dims: ['batch_size', 16, 7, 7], poolings: ['avgpool'], dim: 16 },
      { output: 'pooler_output', elemType: 'float32', dims: ['batch_size', 16, 1, 1], poolings: ['flatten'], dim: 16 },
    ]);
    expect(readoutCandidates(clip).map((c) => [c.output, c.poolings, c.dim])).toEqual([
      ['image_embeds', ['none'], 12],
      ['last_hidden_state', ['cls', 'patch-mean'], 16],
    ]);
    expect(readoutCandidates(inspectModel(withIoType(vitModelBytes(), 'float16'))).map((c) => c.elemType)).toEqual(['float16', 'float16']);
    expect(readoutCandidates(inspectModel(withIoType(vitModelBytes(), 'float64')))).toEqual([]);
    expect(readoutOptions(readoutCandidates(vit)).map((o) => `${o.output}:${o.pooling}`)).toEqual(['last_hidden_state:cls', 'last_hidden_state:patch-mean', 'pooler_output:none']);
  });

  it('the encoder check accepts the HF shapes and float16 IO, and refuses float64 with what to export', () => {
    for (const info of [vit, clip, resnet, resnetMapOnly]) expect(checkImageEncoder(info).ok).toBe(true);
    expect(checkImageEncoder(inspectModel(withIoType(vitModelBytes(), 'float16')))).toMatchObject({ ok: true, inputType: 'float16', inputSize: { h: 32, w: 32 } });
    expect(checkImageEncoder(inspectModel(withIoType(resnetModelBytes(), 'float64')))).toEqual({
      ok: false,
      reason: "input 'pixel_values' holds float64, which the browser runtime cannot feed images in; export the encoder in float32 (float16 also works), e.g. call model.float() before torch.onnx.export.",
    });
  });
});

describe('defaultReadout', () => {
  it('takes the CLS token of last_hidden_state for ViT-family model types, saying why', () => {
    for (const type of ['vit', 'dino', 'dinov2', 'deit', 'vit_msn']) expect(picked(defaultReadout(vit, hfConfig(type)))).toBe('last_hidden_state:cls');
    const d = defaultReadout(vit, hfConfig('vit'));
    expect(d.ok && d.choice).toEqual({
      output: 'last_hidden_state',
      pooling: 'cls',
      dim: 16,
      reason: "model_type vit: a vit model's embedding is its CLS token; its pooler_output is an extra dense + tanh layer that self-supervised checkpoints (DINO, MSN, …) never trained.",
    });
    expect(defaultReadout(vit, hfConfig('dinov2'))).toMatchObject({ ok: true, choice: { reason: 'model_type dinov2: DINOv2 is trained on its CLS token (its pooler_output is the same token).' } });
  });

  it("BEiT reads its mean-pooled pooler_output unless use_mean_pooling is false", () => {
    expect(picked(defaultReadout(vit, hfConfig('beit')))).toBe('pooler_output:none');
    expect(picked(defaultReadout(vit, hfConfig('beit', { use_mean_pooling: false })))).toBe('last_hidden_state:cls');
    expect(picked(defaultReadout(inspectModel(clipVisionBytes()), hfConfig('beit')))).toBe('image_embeds:none');
  });

  it("prefers a CLIP export's image_embeds, with or without config.json", () => {
    for (const config of [null, hfConfig('clip'), hfConfig('clip_vision_model')]) expect(picked(defaultReadout(clip, config))).toBe('image_embeds:none');
    expect(defaultReadout(clip, null)).toMatchObject({ ok: true, choice: { dim: 12, reason: "image_embeds is a CLIP-style export's projected image embedding, the vector it compares with text." } });
    // A CLIPVisionModel export (no projection): its pooler_output, the layer-normed CLS token.
    expect(picked(defaultReadout(vit, hfConfig('clip_vision_model')))).toBe('pooler_output:none');
  });

  it("SigLIP reads its attention-pooled pooler_output (it has no CLS token)", () => {
    for (const type of ['siglip', 'siglip_vision_model']) {
      const d = defaultReadout(vit, hfConfig(type));
      expect(picked(d)).toBe('pooler_output:none');
      expect(d.ok && d.choice.reason).toMatch(/no CLS token; pooler_output is its attention-pooled embedding/);
    }
  });

  it("ResNetModel's pooler_output is flattened; a lone feature map is average-pooled", () => {
    expect(defaultReadout(resnet, hfConfig('resnet'))).toEqual({
      ok: true,
      choice: { output: 'pooler_output', pooling: 'flatten', dim: 16, reason: "model_type resnet: pooler_output [batch_size, 16, 1, 1] is the network's global average pool of its last feature map, flattened." },
    });
    expect(picked(defaultReadout(resnetMapOnly, hfConfig('resnet')))).toBe('last_hidden_state:avgpool');
    expect(picked(defaultReadout(resnetMapOnly, null))).toBe('last_hidden_state:avgpool');
    expect(picked(defaultReadout(inspectModel(tinyEncoderBytes()), null))).toBe('embedding:none');
  });

  it('asks, naming the candidates, when several outputs qualify and nothing decides', () => {
    expect(defaultReadout(vit, null)).toEqual({
      ok: false,
      reason:
        "the model has 2 candidate outputs ('last_hidden_state' [batch_size, 17, 16] (CLS token (token 0) or mean of the patch tokens (1…T−1)), 'pooler_output' [batch_size, 16]) and no config.json says which one is the embedding: choose one.",
    });
    expect(defaultReadout(resnet, null)).toEqual({
      ok: false,
      reason:
        "the model has 2 candidate outputs ('last_hidden_state' [batch_size, 16, 7, 7] (global average pool over height and width), 'pooler_output' [batch_size, 16, 1, 1] (flattened)) and no config.json says which one is the embedding: choose one.",
    });
    expect(defaultReadout(vit, hfConfig('mystery'))).toMatchObject({ ok: false, reason: expect.stringMatching(/config\.json's model_type mystery does not say which one is the embedding: choose one\.$/) });
    expect(defaultReadout(vit, 'not an object')).toMatchObject({ ok: false });
  });

  it('a lone token sequence defaults to its CLS token and says how to change it', () => {
    const tokensOnly = { outputs: [vit.outputs[0]!] };
    const d = defaultReadout(tokensOnly, null);
    expect(picked(d)).toBe('last_hidden_state:cls');
    expect(d.ok && d.choice.reason).toMatch(/no config\.json says otherwise\); choose the mean of the patch tokens if the model has no CLS token\.$/);
    expect(picked(defaultReadout(tokensOnly, hfConfig('siglip')))).toBe('last_hidden_state:patch-mean');
  });
});

describe('choosing a readout by hand', () => {
  const candidates = readoutCandidates(vit);

  it('parses --output NAME[:pooling] and explains every mistake with the choices', () => {
    expect(parseReadoutFlag('pooler_output', candidates)).toEqual({ output: 'pooler_output', pooling: 'none' });
    expect(parseReadoutFlag('last_hidden_state:patch-mean', candidates)).toEqual({ output: 'last_hidden_state', pooling: 'patch-mean' });
    expect(parseReadoutFlag('last_hidden_state', candidates)).toBe("'last_hidden_state' [batch_size, 17, 16] needs a pooling: last_hidden_state:cls or last_hidden_state:patch-mean.");
    expect(parseReadoutFlag('last_hidden_state:avgpool', candidates)).toBe("'last_hidden_state' [batch_size, 17, 16] can be read with last_hidden_state:cls or last_hidden_state:patch-mean, not :avgpool.");
    expect(parseReadoutFlag('logits', candidates)).toBe("the model has no output 'logits' that can be read as an embedding; choose one of: last_hidden_state:cls, last_hidden_state:patch-mean, pooler_output.");
    const colon = readoutCandidates({ outputs: [{ name: 'enc:out', kind: 'tensor', elemType: 'float32', dims: [null, 8] }] });
    expect(parseReadoutFlag('enc:out', colon)).toEqual({ output: 'enc:out', pooling: 'none' });
  });

  it('keeps only options the model has', () => {
    expect(chosenReadout(candidates, { output: 'pooler_output', pooling: 'none' }, 'by hand.')).toEqual({ output: 'pooler_output', pooling: 'none', reason: 'by hand.', dim: 16 });
    expect(chosenReadout(candidates, { output: 'pooler_output', pooling: 'cls' }, 'x')).toBeNull();
    expect(chosenReadout(candidates, { output: 'nope', pooling: 'none' }, 'x')).toBeNull();
  });

  it('records are validated when read back, and keyed distinctly for caches', () => {
    expect(readoutRecordProblem('r', { output: 'last_hidden_state', pooling: 'cls', reason: 'x', dim: 16 })).toBeNull();
    expect(readoutRecordProblem('r', { output: 'a', pooling: 'max' })).toBe('r.pooling must be one of none, flatten, avgpool, cls, patch-mean, got "max"');
    expect(readoutRecordProblem('r', { output: 'a', pooling: 'cls', extra: 1 })).toBe('r.extra is not a known field');
    expect(readoutRecordProblem('r', { output: 'a', pooling: 'cls', dim: 0 })).toBe('r.dim must be a positive integer');
    expect(readoutRecordProblem('r', 'a:cls')).toBe('r must be a JSON object');
    expect(readoutKey({ output: 'a/b', pooling: 'cls' })).toBe('a%2Fb~cls');
    expect(new Set([readoutKey({ output: 'x', pooling: 'cls' }), readoutKey({ output: 'x', pooling: 'patch-mean' }), readoutKey({ output: 'y', pooling: 'cls' })]).size).toBe(3);
    expect(describeReadoutRecord({ output: 'last_hidden_state', pooling: 'cls', dim: 768, reason: 'model_type vit.' })).toBe('last_hidden_state, CLS token (token 0) → 768 values (model_type vit)');
  });
});
