import { describe, expect, it } from 'vitest';
import { analyseRepoLayout, parseOnnxPath, type RepoFileInfo } from './repo-layout';

const VARIANTS = ['', '_bnb4', '_fp16', '_int8', '_q4', '_q4f16', '_quantized', '_uint8'];
const MB = 1e6;
/** The onnx/ files of one component in every variant transformers.js publishes, sized from the full one. */
const component = (name: string, fullMb: number | null): RepoFileInfo[] =>
  VARIANTS.map((v) => ({
    path: `onnx/${name}${v}.onnx`,
    size: fullMb === null ? null : Math.round(fullMb * MB * (v === '' ? 1 : v === '_fp16' ? 0.5 : v.startsWith('_q4') || v === '_bnb4' ? 0.18 : 0.25)),
  }));
const plain = (...paths: string[]): RepoFileInfo[] => paths.map((path) => ({ path, size: 1000 }));

// Listings shaped like the real repos (file names as published; sizes rounded).
const CLIP_FILES = [
  ...plain('.gitattributes', 'README.md', 'config.json', 'merges.txt', 'preprocessor_config.json', 'quantize_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json'),
  ...component('model', 605.2),
  ...component('text_model', 254.1),
  ...component('vision_model', 351.5),
];
const CLIP_CONFIG = { model_type: 'clip', architectures: ['CLIPModel'], projection_dim: 512, text_config: { hidden_size: 512 }, vision_config: { hidden_size: 768, image_size: 224, patch_size: 32 } };
const DINOV2_FILES = [...plain('.gitattributes', 'README.md', 'config.json', 'preprocessor_config.json'), ...component('model', 88.2)];
const DINOV2_CONFIG = { model_type: 'dinov2', architectures: ['Dinov2Model'], hidden_size: 384, image_size: 518, patch_size: 14 };
const RESNET_FILES = [...plain('.gitattributes', 'README.md', 'config.json', 'preprocessor_config.json', 'quantize_config.json'), ...component('model', 102.4)];
const RESNET_CONFIG = { model_type: 'resnet', architectures: ['ResNetForImageClassification'], num_channels: 3, hidden_sizes: [256, 512, 1024, 2048] };
const MINILM_FILES = [...plain('.gitattributes', 'README.md', 'config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt'), ...component('model', 90.4)];
const MINILM_CONFIG = { model_type: 'bert', architectures: ['BertModel'], vocab_size: 30522, hidden_size: 384 };

describe('parseOnnxPath', () => {
  it.each([
    ['onnx/model.onnx', 'model', 'onnx', 'full'],
    ['onnx/vision_model_fp16.onnx', 'vision_model', 'onnx', 'fp16'],
    ['onnx/model_q4f16.onnx', 'model', 'onnx', 'q4f16'],
    ['onnx/model_q4.onnx', 'model', 'onnx', 'q4'],
    ['onnx/decoder_model_merged_quantized.onnx', 'decoder_model_merged', 'onnx', 'quantized'],
    ['model_uint8.onnx', 'model', '', 'uint8'],
    ['onnx/text_model_bnb4.onnx', 'text_model', 'onnx', 'bnb4'],
    ['encoder.onnx', 'encoder', '', 'full'],
    ['onnx/image_encoder_int8.onnx', 'image_encoder', 'onnx', 'int8'],
  ])('%s → %s / %s / %s', (path, comp, folder, variant) => {
    expect(parseOnnxPath(path)).toEqual({ component: comp, folder, variant });
  });
});

describe('analyseRepoLayout', () => {
  it('groups a CLIP repo and preselects the full-precision vision tower, saying so', () => {
    const layout = analyseRepoLayout('Xenova/clip-vit-base-patch32', CLIP_FILES, CLIP_CONFIG);
    expect(layout.groups.map((g) => [g.component, g.role])).toEqual([['vision_model', 'image'], ['model', 'joint'], ['text_model', 'text']]);
    expect(layout.groups[0]!.files.map((f) => f.variant)).toEqual(['full', 'fp16', 'quantized', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']);
    expect(layout.groups[0]!.files[0]).toEqual({ path: 'onnx/vision_model.onnx', size: 351_500_000, variant: 'full' });
    expect(layout.preselected).toEqual({
      path: 'onnx/vision_model.onnx',
      reason: 'A CLIP-style repo with text and image models: the full-precision vision tower onnx/vision_model.onnx is preselected, as only it turns images alone into embeddings.',
    });
    expect(layout.noImageModel).toBeNull();
  });

  it('knows the joint model of a CLIP repo without its config too, and names SigLIP', () => {
    expect(analyseRepoLayout('x/clip', CLIP_FILES).preselected?.path).toBe('onnx/vision_model.onnx');
    expect(analyseRepoLayout('x/clip', CLIP_FILES).groups.find((g) => g.component === 'model')?.role).toBe('joint');
    const siglip = analyseRepoLayout('Xenova/siglip-base-patch16-224', CLIP_FILES, { ...CLIP_CONFIG, model_type: 'siglip' });
    expect(siglip.preselected?.reason).toMatch(/^A SigLIP-style repo/);
  });

  it('takes a model.onnx beside a vision tower for the joint model, and names other joint repos by type', () => {
    const files = [...plain('preprocessor_config.json'), ...component('model', 600), ...component('vision_model', 350)];
    const layout = analyseRepoLayout('x/joint', files);
    expect(layout.groups.map((g) => [g.component, g.role])).toEqual([['vision_model', 'image'], ['model', 'joint']]);
    expect(layout.preselected?.reason).toBe(
      'A CLIP/SigLIP-style repo with text and image models: the full-precision vision tower onnx/vision_model.onnx is preselected, as only it turns images alone into embeddings.',
    );
    const florence = [...component('vision_encoder', 360), ...component('embed_tokens', 80), ...component('encoder_model', 200), ...component('decoder_model_merged', 300)];
    const f = analyseRepoLayout('onnx-community/Florence-2-base', florence, { model_type: 'florence2', text_config: {}, vision_config: {} });
    expect(f.preselected?.path).toBe('onnx/vision_encoder.onnx');
    expect(f.preselected?.reason).toMatch(/^A repo with text and image models \(config\.json: model_type florence2\): the full-precision vision tower onnx\/vision_encoder\.onnx/);
  });

  it('preselects model.onnx of a DINOv2 repo', () => {
    const layout = analyseRepoLayout('onnx-community/dinov2-small', DINOV2_FILES, DINOV2_CONFIG);
    expect(layout.groups).toHaveLength(1);
    expect(layout.groups[0]).toMatchObject({ component: 'model', folder: 'onnx', role: 'image' });
    expect(layout.groups[0]!.files).toHaveLength(8);
    expect(layout.preselected).toEqual({ path: 'onnx/model.onnx', reason: 'onnx/model.onnx is the full-precision image model (config.json: model_type dinov2).' });
  });

  it('preselects model.onnx of a ResNet-50 repo, from its config or, lacking it, its image processor', () => {
    expect(analyseRepoLayout('Xenova/resnet-50', RESNET_FILES, RESNET_CONFIG).preselected).toEqual({
      path: 'onnx/model.onnx',
      reason: 'onnx/model.onnx is the full-precision image model (config.json: model_type resnet).',
    });
    expect(analyseRepoLayout('Xenova/resnet-50', RESNET_FILES, null).groups[0]!.role).toBe('image');
  });

  it('finds no image model in a text-only repo and says what it has instead', () => {
    const layout = analyseRepoLayout('Xenova/all-MiniLM-L6-v2', MINILM_FILES, MINILM_CONFIG);
    expect(layout.preselected).toBeNull();
    expect(layout.groups[0]!.role).toBe('text');
    expect(layout.noImageModel).toBe(
      'Xenova/all-MiniLM-L6-v2 has no image model: its ONNX models (model) are text models (config.json: model_type bert). DeDe needs an image encoder: a ViT, DINO/DINOv2, ResNet or ConvNeXt repo, or a CLIP/SigLIP repo with a vision_model.onnx.',
    );
    // Without config.json, the tokenizer and the missing image processor say the same.
    expect(analyseRepoLayout('x/minilm', MINILM_FILES).noImageModel).toMatch(/no image model.*text models/);
    // A repo of text components only.
    expect(analyseRepoLayout('x/t5', [...component('encoder_model', 100), ...component('decoder_model_merged', 200)], { model_type: 't5', vocab_size: 32128 }).noImageModel).toMatch(
      /no image model: its ONNX models \(encoder_model, decoder_model_merged\) are text and text-generating decoder models/,
    );
  });

  it('refuses a repo with only a joint model, which needs text as well', () => {
    const layout = analyseRepoLayout('x/clip-joint', [...plain('config.json', 'tokenizer.json', 'preprocessor_config.json'), ...component('model', 600)], CLIP_CONFIG);
    expect(layout.preselected).toBeNull();
    expect(layout.noImageModel).toMatch(/only a joint text-and-image model \(onnx\/model\.onnx\).*needs text input too/);
  });

  it('picks the image encoder of an image-captioning repo', () => {
    const files = [...plain('config.json', 'preprocessor_config.json', 'tokenizer.json'), ...component('encoder_model', 343), ...component('decoder_model_merged', 600), ...component('decoder_model', 600)];
    const layout = analyseRepoLayout('Xenova/vit-gpt2-image-captioning', files, { model_type: 'vision-encoder-decoder' });
    expect(layout.preselected?.path).toBe('onnx/encoder_model.onnx');
    expect(layout.preselected?.reason).toMatch(/is the full-precision image encoder.*decoder models only turn its output into text/);
    // Whisper's encoder takes audio.
    const whisper = analyseRepoLayout('x/whisper', files, { model_type: 'whisper' });
    expect(whisper.noImageModel).toMatch(/no image model.*audio/);
  });

  it('takes a lone model with no evidence, and says to check it', () => {
    const layout = analyseRepoLayout('me/encoder', [{ path: 'encoder.onnx', size: null }]);
    expect(layout.preselected).toEqual({ path: 'encoder.onnx', reason: 'encoder.onnx is the only model in the repo; nothing in it says what the model takes in, so check the inputs after loading.' });
  });

  it('falls back to the most faithful variant when there is no full-precision file, sizes unknown', () => {
    const files = component('vision_model', null).filter((f) => !/vision_model\.onnx$/.test(f.path));
    const layout = analyseRepoLayout('x/v', files);
    expect(layout.preselected?.path).toBe('onnx/vision_model_fp16.onnx');
    expect(layout.preselected?.reason).toMatch(/image model\. No full-precision file is published: the fp16 variant/);
    expect(layout.groups[0]!.files.every((f) => f.size === null)).toBe(true);
  });

  it('says when there are no .onnx files at all', () => {
    expect(analyseRepoLayout('x/pt', plain('config.json', 'pytorch_model.bin'))).toMatchObject({ groups: [], preselected: null, noImageModel: expect.stringMatching(/x\/pt has no \.onnx files/) });
  });
});
