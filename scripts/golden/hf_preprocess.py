#!/usr/bin/python3
"""Golden reference for Hugging Face image-processor preprocessing (src/core/images/resize-plan.ts,
src/core/images/resample.ts, the CLI's decoder and the browser image worker).

Writes src/core/images/__golden__/:
  photos/*           test photos of many shapes and storage formats, built from the committed 32-px demo
                     PNGs (public/demo/images/) upscaled and tiled: JPEG, PNG, EXIF orientation 6,
                     greyscale, palette, RGBA, CMYK JPEG, 16-bit RGB PNG
  configs.json       four preprocessor_config.json files (ViT, CLIP, ConvNext crop_pct, short edge 256 + crop 224)
  crops/<config>/<photo>.png   the uint8 RGB image the processor normalises, as Pillow makes it: every photo for
                     CLIP, two photos for the other configs (embeddings.json covers every pair; the crops are
                     the bulk of the folder's size)
  encoder.onnx       a small random-weight 224-px conv encoder (pixel_values [N,3,224,224] -> pooler_output [N,64])
  embeddings.json    torch's embeddings of the Pillow-preprocessed tensors, per config and photo
  sizes.json         resize / crop arithmetic for many (config, width, height) cases
  resample.json      Pillow's Image.resize of small random images with every filter, up and down, bit for bit

The pipeline is transformers' (load_image + the image processor's preprocess), written out here because
transformers is not installed: PIL.ImageOps.exif_transpose, convert("RGB"), get_resize_output_image_size,
Image.resize(size, resample, reducing_gap=None), center_crop ((h - ch) // 2, zero padding when the crop is
larger), rescale (float64 multiply, then float32) and normalise. Run with Debian's Python (Pillow 9.4, torch 1.13):

    /usr/bin/python3 scripts/golden/hf_preprocess.py

Independent reference only; never a runtime dependency.
"""
import glob
import json
import math
import os
import struct
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DEMO = os.path.join(ROOT, 'public', 'demo', 'images', 'clean-reference')
OUT = os.path.join(ROOT, 'src', 'core', 'images', '__golden__')

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

CONFIGS = {
    'vit': {
        'image_processor_type': 'ViTImageProcessor', 'do_resize': True, 'size': {'height': 224, 'width': 224}, 'resample': 2,
        'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': [0.5, 0.5, 0.5], 'image_std': [0.5, 0.5, 0.5],
    },
    'clip': {
        'image_processor_type': 'CLIPImageProcessor', 'do_resize': True, 'size': {'shortest_edge': 224}, 'resample': 3,
        'do_center_crop': True, 'crop_size': {'height': 224, 'width': 224}, 'do_convert_rgb': True,
        'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': OPENAI_CLIP_MEAN, 'image_std': OPENAI_CLIP_STD,
    },
    'convnext': {
        'image_processor_type': 'ConvNextImageProcessor', 'do_resize': True, 'size': {'shortest_edge': 224}, 'crop_pct': 0.875, 'resample': 3,
        'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': IMAGENET_MEAN, 'image_std': IMAGENET_STD,
    },
    'short256': {
        'image_processor_type': 'BitImageProcessor', 'do_resize': True, 'size': {'shortest_edge': 256}, 'resample': 2,
        'do_center_crop': True, 'crop_size': {'height': 224, 'width': 224},
        'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True, 'image_mean': IMAGENET_MEAN, 'image_std': IMAGENET_STD,
    },
}

# Photos whose crops are stored for every config (CLIP's are stored for all photos).
PIXEL_GOLDEN_PHOTOS = ('landscape-320x240.jpg', 'portrait-200x300.png')

# Processors whose bare int `size` means the shortest edge (get_size_dict(size, default_to_square=False)).
SHORTEST_EDGE_INT = ('CLIP', 'ChineseCLIP', 'ConvNext', 'Bit')


# ---------------------------------------------------------------- transformers' size arithmetic

def get_size_dict(size, processor_type, param='size'):
    if isinstance(size, int):
        if param == 'size' and processor_type.startswith(SHORTEST_EDGE_INT):
            return {'shortest_edge': size}
        return {'height': size, 'width': size}
    return dict(size)


def get_resize_output_image_size(height, width, size, default_to_square=True, max_size=None):
    """transformers.image_transforms.get_resize_output_image_size, on (height, width)."""
    if isinstance(size, (tuple, list)):
        return tuple(size)
    if default_to_square:
        return (size, size)
    short, long = (width, height) if width <= height else (height, width)
    requested_new_short = size
    new_short, new_long = requested_new_short, int(requested_new_short * long / short)
    if max_size is not None:
        if max_size <= requested_new_short:
            raise ValueError('max_size must be larger than the shortest edge')
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def longest_edge_size(height, width, longest_edge):
    """SamImageProcessor._get_preprocess_shape: the long edge to longest_edge, rounded half up."""
    scale = longest_edge * 1.0 / max(height, width)
    return (int(height * scale + 0.5), int(width * scale + 0.5))


def plan(config, height, width):
    """What the processor does to a height x width image: the resize target (or None) and the crop (or None)."""
    ptype = config.get('image_processor_type', '')
    size = get_size_dict(config['size'], ptype)
    crop = None
    if 'crop_pct' in config and 'shortest_edge' in size:
        # ConvNextImageProcessor.resize
        se = size['shortest_edge']
        if se < 384:
            resize = get_resize_output_image_size(height, width, int(se / config['crop_pct']), default_to_square=False)
            crop = (se, se)
        else:
            resize = (se, se)
        return resize, crop
    if 'shortest_edge' in size:
        resize = get_resize_output_image_size(height, width, size['shortest_edge'], default_to_square=False, max_size=size.get('longest_edge'))
    elif 'height' in size and 'width' in size:
        resize = (size['height'], size['width'])
    elif 'longest_edge' in size:
        resize = longest_edge_size(height, width, size['longest_edge'])
    else:
        raise ValueError(size)
    if config.get('do_center_crop', False) and 'crop_size' in config:
        c = get_size_dict(config['crop_size'], ptype, 'crop_size')
        crop = (c['height'], c['width'])
    return resize, crop


def crop_box(height, width, crop_h, crop_w):
    """transformers.image_transforms.center_crop: the source window and the zero padding around it."""
    top = (height - crop_h) // 2
    left = (width - crop_w) // 2
    if top >= 0 and left >= 0 and top + crop_h <= height and left + crop_w <= width:
        return {'top': top, 'left': left, 'padTop': 0, 'padLeft': 0}
    new_h, new_w = max(crop_h, height), max(crop_w, width)
    top_pad = math.ceil((new_h - height) / 2)
    left_pad = math.ceil((new_w - width) / 2)
    # The crop starts at (top + top_pad, left + left_pad) in the padded image; report it as a window into
    # the original (may be negative) and the padding, which is all the TS side needs.
    return {'top': top, 'left': left, 'padTop': top_pad, 'padLeft': left_pad}


def center_crop(image, crop_h, crop_w):
    """transformers.image_transforms.center_crop on an HWC array."""
    h, w = image.shape[:2]
    top = (h - crop_h) // 2
    bottom = top + crop_h
    left = (w - crop_w) // 2
    right = left + crop_w
    if top >= 0 and bottom <= h and left >= 0 and right <= w:
        return image[top:bottom, left:right]
    new_h, new_w = max(crop_h, h), max(crop_w, w)
    padded = np.zeros((new_h, new_w) + image.shape[2:], dtype=image.dtype)
    top_pad = math.ceil((new_h - h) / 2)
    left_pad = math.ceil((new_w - w) / 2)
    padded[top_pad:top_pad + h, left_pad:left_pad + w] = image
    top += top_pad
    bottom += top_pad
    left += left_pad
    right += left_pad
    return padded[max(0, top):min(new_h, bottom), max(0, left):min(new_w, right)]


# ---------------------------------------------------------------- the Pillow pipeline

def load_image(path):
    """transformers.image_utils.load_image: EXIF orientation applied, then convert('RGB')."""
    image = Image.open(path)
    image = ImageOps.exif_transpose(image)
    return image.convert('RGB')


def preprocess_uint8(image, config):
    """The processor's resize and centre crop on a PIL RGB image; the uint8 HWC array it then rescales."""
    arr = np.array(image)
    (rh, rw), crop = plan(config, arr.shape[0], arr.shape[1])
    if config.get('do_resize', True):
        arr = np.array(Image.fromarray(arr).resize((rw, rh), resample=config.get('resample', 2), reducing_gap=None))
    if crop is not None:
        arr = center_crop(arr, crop[0], crop[1])
    return arr


def normalise(arr, config):
    x = arr.astype(np.float64) * config['rescale_factor']
    x = x.astype(np.float32)
    mean = np.array(config['image_mean'], dtype=np.float32)
    std = np.array(config['image_std'], dtype=np.float32)
    x = (x - mean) / std
    return x.transpose(2, 0, 1)


# ---------------------------------------------------------------- test photos

def demo_tiles():
    files = sorted(glob.glob(os.path.join(DEMO, '*.png')))
    return [Image.open(f).convert('RGB') for f in files]


def mosaic(width, height, tile, offset, tiles):
    """A photo-sized picture: demo images upscaled (bicubic) to tile px and tiled, a few shifted by half a tile."""
    out = Image.new('RGB', (width, height))
    k = offset
    for y in range(0, height, tile):
        shift = (tile // 2) if (y // tile) % 2 else 0
        for x in range(-shift, width, tile):
            out.paste(tiles[k % len(tiles)].resize((tile, tile), Image.BICUBIC), (x, y))
            k += 7
    return out


def png16(path, rgb16):
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b''.join(b'\x00' + rgb16[y].astype('>u2').tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))


def write_photos(folder):
    tiles = demo_tiles()
    os.makedirs(folder, exist_ok=True)
    photos = {}

    def save(name, image, **kw):
        path = os.path.join(folder, name)
        image.save(path, **kw)
        photos[name] = path

    save('landscape-320x240.jpg', mosaic(320, 240, 80, 0, tiles), quality=90)
    save('portrait-200x300.png', mosaic(200, 300, 64, 11, tiles), optimize=True)
    save('square-500x500.jpg', mosaic(500, 500, 125, 23, tiles), quality=85)
    save('tiny-40x30.png', mosaic(40, 30, 20, 37, tiles))
    # Shown upright as 240x320; stored turned a quarter to the left with orientation 6 (turn right to show).
    upright = mosaic(240, 320, 80, 41, tiles)
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    save('exif6-240x320.jpg', stored, quality=90, exif=exif.tobytes())
    save('grey-256x192.png', mosaic(256, 192, 64, 53, tiles).convert('L'), optimize=True)
    save('palette-180x120.png', mosaic(180, 120, 60, 67, tiles).quantize(64), optimize=True)
    rgba = mosaic(160, 200, 40, 79, tiles).convert('RGBA')
    alpha = np.tile(np.linspace(0, 255, 160).astype(np.uint8), (200, 1))
    alpha[:40, :] = 0  # fully transparent rows keep their colour: convert('RGB') drops alpha, composites nothing
    rgba.putalpha(Image.fromarray(alpha))
    save('rgba-160x200.png', rgba, optimize=True)
    save('cmyk-240x160.jpg', mosaic(240, 160, 80, 97, tiles).convert('CMYK'), quality=90)
    base16 = np.array(mosaic(160, 120, 40, 101, tiles)).astype(np.uint16) * 257
    noise = (np.arange(160)[None, :, None] * 3 + np.arange(120)[:, None, None] * 5 + np.arange(3)[None, None, :] * 85).astype(np.uint16) % 256
    path16 = os.path.join(folder, 'rgb16-160x120.png')
    png16(path16, np.minimum(base16 - np.minimum(base16, 128) + noise, 65535).astype(np.uint16))
    photos['rgb16-160x120.png'] = path16
    return photos


# ---------------------------------------------------------------- the fixture encoder

class TinyEncoder(torch.nn.Module):
    """Strided convs down to a 7x7 grid, a 7x7 conv over that grid (so that where things are matters and
    a wrong crop shows), then the global average pool."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 4, stride=4), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 64, 7, bias=False),
        )

    def forward(self, pixel_values):
        return self.body(pixel_values).mean(dim=(2, 3))


def build_encoder(path):
    torch.manual_seed(15)
    model = TinyEncoder().eval()
    dummy = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(model, dummy, path, input_names=['pixel_values'], output_names=['pooler_output'],
                      dynamic_axes={'pixel_values': {0: 'batch'}, 'pooler_output': {0: 'batch'}}, opset_version=17)
    return model


# ---------------------------------------------------------------- size cases

def size_cases():
    extra = {
        'clip-int': {'image_processor_type': 'CLIPImageProcessor', 'size': 224, 'crop_size': 224, 'do_center_crop': True},
        'vit-int': {'image_processor_type': 'ViTImageProcessor', 'size': 224},
        'convnext-0.9': {'image_processor_type': 'ConvNextImageProcessor', 'size': {'shortest_edge': 224}, 'crop_pct': 0.9},
        'convnext-384': {'image_processor_type': 'ConvNextImageProcessor', 'size': {'shortest_edge': 384}, 'crop_pct': 0.875},
        'short-long': {'image_processor_type': 'CLIPImageProcessor', 'size': {'shortest_edge': 224, 'longest_edge': 300}, 'crop_size': 224, 'do_center_crop': True},
        'longest': {'image_processor_type': 'SamImageProcessor', 'size': {'longest_edge': 224}, 'crop_size': 224, 'do_center_crop': True},
        'crop-larger': {'image_processor_type': 'BitImageProcessor', 'size': {'shortest_edge': 200}, 'crop_size': {'height': 224, 'width': 210}, 'do_center_crop': True},
    }
    configs = {**CONFIGS, **extra}
    shapes = [(320, 240), (240, 320), (500, 500), (40, 30), (333, 500), (500, 333), (299, 300), (1, 1000), (1000, 3), (225, 224),
              (224, 225), (641, 427), (427, 641), (1920, 1080), (1080, 1920), (257, 255), (4032, 3024), (97, 61)]
    cases = []
    for name, config in configs.items():
        for (w, h) in shapes:
            (rh, rw), crop = plan(config, h, w)
            case = {'config': name, 'width': w, 'height': h, 'resize': {'height': rh, 'width': rw}}
            if crop is not None:
                case['crop'] = {'height': crop[0], 'width': crop[1], **crop_box(rh, rw, crop[0], crop[1])}
            cases.append(case)
    return configs, cases


def resample_cases():
    """Image.resize with each PIL filter (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)."""
    import base64
    rng = np.random.default_rng(7)
    sources = {'13x9': rng.integers(0, 256, size=(9, 13, 3), dtype=np.uint8), '61x41': rng.integers(0, 256, size=(41, 61, 3), dtype=np.uint8)}
    targets = {'13x9': [(5, 4), (20, 30), (13, 3), (7, 9), (1, 1), (40, 7)], '61x41': [(11, 7), (30, 20), (75, 15), (24, 24)]}
    out = {'sources': {k: base64.b64encode(v.tobytes()).decode() for k, v in sources.items()}, 'cases': []}
    for name, arr in sources.items():
        for (w, h) in targets[name]:
            for code in range(6):
                res = np.array(Image.fromarray(arr).resize((w, h), resample=code, reducing_gap=None))
                out['cases'].append({'source': name, 'width': w, 'height': h, 'resample': code, 'rgb': base64.b64encode(res.tobytes()).decode()})
    return out


def main():
    photos = write_photos(os.path.join(OUT, 'photos'))
    model = build_encoder(os.path.join(OUT, 'encoder.onnx'))
    embeddings = {}
    for cname, config in CONFIGS.items():
        os.makedirs(os.path.join(OUT, 'crops', cname), exist_ok=True)
        embeddings[cname] = {}
        for pname, path in sorted(photos.items()):
            arr = preprocess_uint8(load_image(path), config)
            assert arr.shape == (224, 224, 3), (cname, pname, arr.shape)
            if cname == 'clip' or pname in PIXEL_GOLDEN_PHOTOS:
                Image.fromarray(arr).save(os.path.join(OUT, 'crops', cname, pname.rsplit('.', 1)[0] + '.png'), optimize=True)
            with torch.no_grad():
                emb = model(torch.from_numpy(normalise(arr, config))[None])[0].numpy()
            embeddings[cname][pname] = [float(v) for v in emb]
    # How far apart different photos are for this encoder (a wrong crop must show).
    flat = [(c, p, np.array(v)) for c, d in embeddings.items() for p, v in d.items()]
    cos = [float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) for (c1, p1, a) in flat for (c2, p2, b) in flat if c1 == c2 and p1 < p2]
    print(f'cosine between different photos, same config: max {max(cos):.4f}, median {np.median(cos):.4f}')
    configs, cases = size_cases()
    with open(os.path.join(OUT, 'configs.json'), 'w') as f:
        json.dump(CONFIGS, f, indent=1)
    with open(os.path.join(OUT, 'embeddings.json'), 'w') as f:
        json.dump({'encoder': 'encoder.onnx', 'input': 'pixel_values', 'output': 'pooler_output', 'embeddings': embeddings}, f)
    with open(os.path.join(OUT, 'resample.json'), 'w') as f:
        json.dump(resample_cases(), f)
    with open(os.path.join(OUT, 'sizes.json'), 'w') as f:
        json.dump({'configs': configs, 'cases': cases}, f, indent=0)
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(OUT, '**', '*'), recursive=True) if os.path.isfile(p))
    print(f'wrote {OUT}: {total / 1024:.0f} KB')


if __name__ == '__main__':
    main()
