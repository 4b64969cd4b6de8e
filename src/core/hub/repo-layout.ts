// Makes sense of a repo's .onnx files as transformers.js and onnx-community publish them: one file
// per component (model, vision_model, text_model, encoder_model, decoder_model_merged, ...) and
// precision variant (model.onnx, model_fp16.onnx, model_quantized.onnx, model_q4.onnx, ...), and
// picks the one DeDe needs: the full-precision image model, the vision tower of a CLIP/SigLIP repo.

/** Variant suffixes in the order they are preferred (most faithful first). */
export const ONNX_VARIANTS = ['full', 'fp16', 'quantized', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type OnnxVariant = (typeof ONNX_VARIANTS)[number];

/** What a component takes in: only `image` (and `unknown`, for lack of evidence) can be the encoder. */
export type ComponentRole = 'image' | 'text' | 'audio' | 'joint' | 'decoder' | 'unknown';

export interface RepoFileInfo {
  readonly path: string;
  /** Bytes, when the listing says (the hub does with ?blobs=true). */
  readonly size: number | null;
}

export interface OnnxFileEntry extends RepoFileInfo {
  readonly variant: OnnxVariant;
}

export interface ComponentGroup {
  /** Component name without folder or variant suffix, e.g. vision_model. */
  readonly component: string;
  /** Folder of its files in the repo ('' at the root). */
  readonly folder: string;
  readonly role: ComponentRole;
  /** Its files, most faithful variant first. */
  readonly files: readonly OnnxFileEntry[];
}

export interface RepoLayout {
  /** Image components first, then the rest. */
  readonly groups: readonly ComponentGroup[];
  /** The file to load, and why it was chosen, in one sentence. */
  readonly preselected: { readonly path: string; readonly reason: string } | null;
  /** Set when the repo offers no image model: what it has instead and what to do. */
  readonly noImageModel: string | null;
}

const VARIANT_SUFFIX = /^(.+?)_(fp16|quantized|int8|uint8|q4f16|q4|bnb4)$/;

/** Component, folder and variant of an .onnx path, e.g. onnx/vision_model_fp16.onnx. */
export function parseOnnxPath(path: string): { component: string; folder: string; variant: OnnxVariant } {
  const slash = path.lastIndexOf('/');
  const folder = slash < 0 ? '' : path.slice(0, slash);
  const stem = path.slice(slash + 1).replace(/\.onnx$/i, '');
  const m = VARIANT_SUFFIX.exec(stem);
  return m ? { component: m[1]!, folder, variant: m[2] as OnnxVariant } : { component: stem, folder, variant: 'full' };
}

/** A role from the component's name alone; null for names that say nothing (model, encoder_model). */
function roleFromName(component: string): ComponentRole | null {
  const c = component.toLowerCase();
  if (/decoder|lm_head/.test(c)) return 'decoder';
  if (/vision|image|visual|pixel|img/.test(c)) return 'image';
  if (/audio|speech|mel/.test(c)) return 'audio';
  if (/text|token|language|prompt|query|sentence/.test(c)) return 'text';
  return null;
}

const IMAGE_TYPES = new Set([
  'vit', 'deit', 'beit', 'dinov2', 'dinov2_with_registers', 'dinov3_vit', 'dinov3_convnext', 'resnet', 'convnext', 'convnextv2', 'swin', 'swinv2',
  'efficientnet', 'mobilenet_v1', 'mobilenet_v2', 'mobilevit', 'mobilevitv2', 'regnet', 'levit', 'poolformer', 'segformer', 'dpt',
  'yolos', 'detr', 'clip_vision_model', 'siglip_vision_model', 'vit_mae', 'vit_msn', 'data2vec-vision', 'focalnet', 'cvt', 'pvt',
  'pvt_v2', 'bit', 'van', 'efficientformer', 'hiera', 'ijepa', 'timm_wrapper', 'depth_anything', 'dinat', 'nat', 'glpn', 'vitmatte',
]);
const JOINT_TYPES = new Set(['clip', 'siglip', 'siglip2', 'chinese_clip', 'align', 'altclip', 'owlvit', 'owlv2', 'blip', 'jina_clip', 'mobileclip']);
const AUDIO_TYPES = new Set(['whisper', 'wav2vec2', 'hubert', 'wavlm', 'audio-spectrogram-transformer', 'speecht5', 'moonshine', 'unispeech', 'clap', 'musicgen']);

type Modality = 'image' | 'text' | 'audio' | 'joint' | 'image-to-text';

/** What a config.json says the model takes in, when it says. */
function configModality(config: unknown): Modality | null {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return null;
  const c = config as Record<string, unknown>;
  const type = typeof c['model_type'] === 'string' ? (c['model_type'] as string).toLowerCase() : '';
  if (type === 'vision-encoder-decoder') return 'image-to-text';
  if (JOINT_TYPES.has(type) || (c['text_config'] !== undefined && c['vision_config'] !== undefined)) return 'joint';
  if (IMAGE_TYPES.has(type)) return 'image';
  if (AUDIO_TYPES.has(type) || c['num_mel_bins'] !== undefined) return 'audio';
  if (c['num_channels'] !== undefined || c['image_size'] !== undefined || c['patch_size'] !== undefined) return 'image';
  if (type !== '' || c['vocab_size'] !== undefined) return 'text';
  return null;
}

function modelTypeOf(config: unknown): string | null {
  const t = typeof config === 'object' && config !== null ? (config as Record<string, unknown>)['model_type'] : undefined;
  return typeof t === 'string' ? t : null;
}

const JOINT_NAMES: Readonly<Record<string, string>> = { clip: 'CLIP', siglip: 'SigLIP', siglip2: 'SigLIP 2', chinese_clip: 'Chinese-CLIP', align: 'ALIGN', altclip: 'AltCLIP', jina_clip: 'Jina-CLIP' };

/** Preferred order among image components of one repo. */
const IMAGE_COMPONENT_ORDER = ['vision_model', 'image_encoder', 'vision_encoder', 'encoder_model', 'model'];

/**
 * Groups a repo's .onnx files by component and variant and preselects the one to load. `files` is
 * the whole listing (configs and tokenizer files are evidence too); `config` is the repo's root
 * config.json when it could be read.
 */
export function analyseRepoLayout(repo: string, files: readonly RepoFileInfo[], config: unknown = null): RepoLayout {
  const paths = new Set(files.map((f) => f.path.split('/').pop()!));
  const byKey = new Map<string, { component: string; folder: string; files: OnnxFileEntry[] }>();
  for (const f of files) {
    if (!/\.onnx$/i.test(f.path)) continue;
    const { component, folder, variant } = parseOnnxPath(f.path);
    const key = `${folder}/${component}`;
    const group = byKey.get(key) ?? { component, folder, files: [] };
    group.files.push({ path: f.path, size: f.size, variant });
    byKey.set(key, group);
  }
  if (byKey.size === 0) return { groups: [], preselected: null, noImageModel: `${repo} has no .onnx files at this revision: DeDe needs the encoder exported to ONNX (transformers.js and onnx-community repos have them under onnx/).` };

  const modality = configModality(config);
  const named = [...byKey.values()].map((g) => ({ ...g, nameRole: roleFromName(g.component) }));
  const hasImage = named.some((g) => g.nameRole === 'image');
  const hasText = named.some((g) => g.nameRole === 'text');
  // Evidence from the files when config.json says nothing: an image processor, or only a tokenizer.
  const fileModality: Modality | null = paths.has('preprocessor_config.json')
    ? 'image'
    : paths.has('tokenizer.json') || paths.has('vocab.txt') || paths.has('tokenizer_config.json')
      ? 'text'
      : null;
  const roleOf = (g: (typeof named)[number]): ComponentRole => {
    if (g.nameRole) return g.nameRole;
    const isEncoder = /encoder/.test(g.component);
    if (isEncoder) {
      if (modality === 'image-to-text') return 'image';
      if (modality === 'text' || modality === 'audio') return modality;
      return 'unknown';
    }
    // A model.onnx beside a separate vision tower (and text tower) is the joint model: it needs both inputs.
    if (hasImage && (hasText || g.component === 'model')) return 'joint';
    if (modality === 'joint') return 'joint';
    if (modality === 'image' || modality === 'text' || modality === 'audio') return modality;
    if (modality === 'image-to-text') return 'unknown';
    return fileModality ?? 'unknown';
  };
  const rank = (g: ComponentGroup): number => {
    const roleRank = g.role === 'image' ? 0 : g.role === 'unknown' ? 1 : 2;
    const nameRank = IMAGE_COMPONENT_ORDER.indexOf(g.component);
    return roleRank * 100 + (nameRank < 0 ? IMAGE_COMPONENT_ORDER.length : nameRank);
  };
  const groups: ComponentGroup[] = named
    .map((g) => ({
      component: g.component,
      folder: g.folder,
      role: roleOf(g),
      files: [...g.files].sort((a, b) => ONNX_VARIANTS.indexOf(a.variant) - ONNX_VARIANTS.indexOf(b.variant) || a.path.localeCompare(b.path)),
    }))
    .sort((a, b) => rank(a) - rank(b) || a.folder.localeCompare(b.folder) || a.component.localeCompare(b.component));

  const candidate = groups.find((g) => g.role === 'image') ?? groups.find((g) => g.role === 'unknown');
  if (!candidate) return { groups, preselected: null, noImageModel: noImageMessage(repo, groups, config) };
  const file = candidate.files[0]!;
  const type = modelTypeOf(config);
  const fromConfig = type ? ` (config.json: model_type ${type})` : '';
  const fp = file.variant === 'full' ? 'full-precision ' : '';
  let reason: string;
  if (candidate.role === 'image' && (hasText || groups.some((g) => g.role === 'joint'))) {
    const known = type ? JOINT_NAMES[type.toLowerCase()] : undefined;
    const repoKind = known ? `A ${known}-style repo` : type ? `A repo with text and image models (config.json: model_type ${type})` : 'A CLIP/SigLIP-style repo';
    reason = `${repoKind}${known || !type ? ' with text and image models' : ''}: the ${fp}vision tower ${file.path} is preselected, as only it turns images alone into embeddings.`;
  } else if (candidate.role === 'image' && /encoder/.test(candidate.component) && groups.some((g) => g.role === 'decoder')) {
    reason = `${file.path} is the ${fp}image encoder${fromConfig}; the decoder models only turn its output into text.`;
  } else if (candidate.role === 'image') {
    reason = `${file.path} is the ${fp}image model${fromConfig}.`;
  } else if (groups.length === 1) {
    reason = `${file.path} is the only model in the repo; nothing in it says what the model takes in, so check the inputs after loading.`;
  } else {
    reason = `Nothing in the repo says which model takes images; ${file.path} is the first candidate, so check the inputs after loading.`;
  }
  if (file.variant !== 'full') reason += ` No full-precision file is published: the ${file.variant} variant is the most faithful there is.`;
  return { groups, preselected: { path: file.path, reason }, noImageModel: null };
}

function noImageMessage(repo: string, groups: readonly ComponentGroup[], config: unknown): string {
  const type = modelTypeOf(config);
  const fromConfig = type ? ` (config.json: model_type ${type})` : '';
  const joint = groups.find((g) => g.role === 'joint');
  const advice = 'DeDe needs an image encoder: a ViT, DINO/DINOv2, ResNet or ConvNeXt repo, or a CLIP/SigLIP repo with a vision_model.onnx.';
  if (joint && groups.every((g) => g.role === 'joint' || g.role === 'text')) {
    return `${repo} has only a joint text-and-image model (${joint.files[0]!.path})${fromConfig}, which needs text input too, and no separate vision tower. ${advice}`;
  }
  const kinds = [...new Set(groups.map((g) => (g.role === 'decoder' ? 'text-generating decoder' : g.role)))];
  const names = groups.map((g) => g.component).join(', ');
  return `${repo} has no image model: its ONNX models (${names}) are ${kinds.join(' and ')} models${fromConfig}. ${advice}`;
}
