import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { HUB_COMMIT, HUB_TOKEN, startHubServer, type HubServer } from './hub-server';
import { setHubEndpoint } from './workflow-steps';
import { externalDataEncoder, PREPROCESSOR_CONFIG, sha256, tinyEncoderBytes } from '../src/testing/tiny-encoder';
import { HF, resnetModelBytes, vitModelBytes, withIoType } from '../src/testing/hf-encoders';
import { inspectModel } from '../src/core/onnx/inspect';

const ENCODER = tinyEncoderBytes();
const EXTERNAL = externalDataEncoder();
const NOT_ONNX = new TextEncoder().encode('<!doctype html><html><body>Sign in</body></html>');
const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const TOKENIZER = json({ version: '1.0', model: { type: 'WordPiece' } });
let hub: HubServer;

test.beforeAll(async () => {
  hub = await startHubServer({
    // The transformers.js layout: configs at the root, the models (and their variants) under onnx/.
    'acme/tiny-encoder/config.json': json({ model_type: 'vit', architectures: ['ViTModel'], hidden_size: 128, image_size: 32 }),
    'acme/tiny-encoder/preprocessor_config.json': PREPROCESSOR_CONFIG,
    'acme/tiny-encoder/onnx/model.onnx': ENCODER,
    'acme/tiny-encoder/onnx/model_quantized.onnx': ENCODER,
    'acme/tiny-encoder/onnx/model_fp16.onnx': ENCODER,
    // A CLIP-style repo: joint, text and vision models side by side.
    'acme/tiny-clip/config.json': json({ model_type: 'clip', projection_dim: 128, text_config: { hidden_size: 64 }, vision_config: { hidden_size: 128, image_size: 32 } }),
    'acme/tiny-clip/preprocessor_config.json': PREPROCESSOR_CONFIG,
    'acme/tiny-clip/tokenizer.json': TOKENIZER,
    'acme/tiny-clip/onnx/model.onnx': ENCODER,
    'acme/tiny-clip/onnx/text_model.onnx': ENCODER,
    'acme/tiny-clip/onnx/vision_model.onnx': ENCODER,
    'acme/tiny-clip/onnx/vision_model_quantized.onnx': ENCODER,
    // A text-only repo.
    'acme/tiny-minilm/config.json': json({ model_type: 'bert', vocab_size: 30522, hidden_size: 384 }),
    'acme/tiny-minilm/tokenizer.json': TOKENIZER,
    'acme/tiny-minilm/onnx/model.onnx': ENCODER,
    'acme/tiny-minilm/onnx/model_quantized.onnx': ENCODER,
    'acme/broken/fake.onnx': NOT_ONNX,
    'acme/slow/model.onnx': ENCODER,
    'acme/flaky/model.onnx': ENCODER,
    'acme/gated/model.onnx': ENCODER,
    'acme/big-encoder/model.onnx': EXTERNAL.model,
    'acme/big-encoder/model.onnx_data': EXTERNAL.data,
    'acme/big-encoder/preprocessor_config.json': PREPROCESSOR_CONFIG,
    'acme/big-encoder/config.json': new TextEncoder().encode(JSON.stringify({ model_type: 'resnet', hidden_size: 128 })),
  });
});
test.afterAll(() => hub.close());

async function useLocalHub(page: Page): Promise<void> {
  await page.goto('/');
  await setHubEndpoint(page, hub.endpoint);
}

async function loadSource(page: Page, text: string): Promise<void> {
  await page.getByLabel('Model URL or repo id').fill(text);
  await page.getByRole('button', { name: 'Load', exact: true }).click();
}

const savedModels = (page: Page) => page.getByRole('region', { name: 'Saved models' }).getByRole('table');

test('loads an encoder from a hub repo with progress, caches it, and test-runs it', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  await useLocalHub(page);
  await loadSource(page, 'acme/tiny-encoder');
  // The transformers.js layout: grouped by component and variant, with sizes, the full model preselected.
  const files = page.getByRole('table', { name: /ONNX files in acme\/tiny-encoder/ });
  await expect(files.getByRole('row')).toHaveCount(4);
  await expect(files).toContainText(/model \(image\)\s*in onnx\/\s*full\s*preselected\s*1\.\d MB/);
  await expect(files).toContainText('fp16');
  await expect(files).toContainText('quantized');
  await expect(page.getByTestId('repo-preselected')).toHaveText('onnx/model.onnx is the full-precision image model (config.json: model_type vit).');
  await expect(page.getByTestId('repo-preselected-row')).toContainText('onnx/model.onnx');
  await page.screenshot({ path: 'test-results/screens/encoder-repo-files.png' });
  // Keyboard only: focus the preselected row's Load button and press Enter.
  await page.getByRole('button', { name: 'Load onnx/model.onnx' }).focus();
  await page.keyboard.press('Enter');
  const progress = page.getByTestId('download-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText(/of 1\.\d MB · \d+%/);
  await page.screenshot({ path: 'test-results/screens/encoder-downloading.png' });

  const summary = page.getByTestId('encoder-summary');
  await expect(summary).toBeVisible();
  await expect(page.getByTestId('encoder-sha256')).toHaveText(sha256(ENCODER));
  await expect(summary).toContainText(`Commit${HUB_COMMIT}`);
  await expect(summary).toContainText(/pixel_values: float32 \[\S*, 3, 32, 32\]/);
  // Preprocessing and config.json come from the repo root, with no manual step, and it says so.
  await expect(summary).toContainText('32×32, mean [0.4914, 0.4822, 0.4465], std [0.247, 0.243, 0.261] (from preprocessor_config.json at the repo root)');
  await expect(summary).toContainText('model_type vit, architectures ViTModel, hidden_size 128, image_size 32 (config.json at the repo root)');
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText(/Batch of 2 → \[2, 128\] in [\d.]+ ms on WASM/);
  await expect(savedModels(page)).toContainText('onnx/model.onnx');
  // The model came through the hub's redirect to its CDN; the configs (small git files) directly.
  expect(hub.cdnRequests.filter((r) => r.repo === 'acme/tiny-encoder').map((r) => r.sha256)).toEqual([sha256(ENCODER)]);
  expect(hub.fileRequests.map((r) => r.path.split('/resolve/')[1]?.replace(/^[^/]+\//, ''))).toEqual(expect.arrayContaining(['onnx/model.onnx', 'config.json', 'preprocessor_config.json']));
  // No config was asked for where the listing says there is none (no 404 probing of onnx/).
  expect(hub.fileRequests.filter((r) => r.path.includes('/acme/tiny-encoder/') && r.path.endsWith('/onnx/preprocessor_config.json'))).toHaveLength(0);
  await page.screenshot({ path: 'test-results/screens/encoder-loaded.png', fullPage: true });
  expect(hub.fileRequests.filter((r) => r.path.endsWith('/onnx/model.onnx'))).toHaveLength(1);

  // A reload keeps the encoder, and loading the same file again needs no second download.
  await page.reload();
  await expect(page.getByTestId('encoder-sha256')).toHaveText(sha256(ENCODER));
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText('[2, 128]');
  await loadSource(page, `${hub.endpoint}/acme/tiny-encoder/resolve/main/onnx/model.onnx`);
  await expect(page.getByText('Loaded onnx/model.onnx.')).toBeVisible();
  expect(hub.fileRequests.filter((r) => r.path.endsWith('/onnx/model.onnx'))).toHaveLength(1);

  // The model manager deletes it.
  await page.getByRole('button', { name: 'Delete onnx/model.onnx' }).click();
  await expect(savedModels(page)).not.toContainText('onnx/model.onnx');
});

test('preselects the vision tower of a CLIP-style repo and says why; a text-only repo gets a clear message', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  await useLocalHub(page);
  await loadSource(page, 'acme/tiny-clip');
  const files = page.getByRole('table', { name: /ONNX files in acme\/tiny-clip/ });
  await expect(files.getByRole('rowheader')).toHaveText([/vision_model \(image\)/, /model \(text \+ image\)/, /text_model \(text\)/]);
  await expect(page.getByTestId('repo-preselected')).toHaveText(
    'A CLIP-style repo with text and image models: the full-precision vision tower onnx/vision_model.onnx is preselected, as only it turns images alone into embeddings.',
  );
  await expect(page.getByTestId('repo-preselected-row')).toContainText('onnx/vision_model.onnx');
  await page.getByTestId('repo-preselected-row').scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screens/encoder-repo-clip.png' });
  await page.getByTestId('repo-preselected-row').getByRole('button').click();
  const summary = page.getByTestId('encoder-summary');
  await expect(summary.getByRole('heading')).toHaveText('onnx/vision_model.onnx');
  await expect(summary).toContainText('(from preprocessor_config.json at the repo root)');
  expect(hub.cdnRequests.filter((r) => r.repo === 'acme/tiny-clip').map((r) => r.sha256)).toEqual([sha256(ENCODER)]);
  expect(hub.fileRequests.filter((r) => r.path.includes('/acme/tiny-clip/') && r.path.endsWith('.onnx')).map((r) => r.path.split('/').pop())).toEqual(['vision_model.onnx']);

  await loadSource(page, 'acme/tiny-minilm');
  await expect(page.getByTestId('repo-no-image-model')).toHaveText(
    'acme/tiny-minilm has no image model: its ONNX models (model) are text models (config.json: model_type bert). DeDe needs an image encoder: a ViT, DINO/DINOv2, ResNet or ConvNeXt repo, or a CLIP/SigLIP repo with a vision_model.onnx.',
  );
  await expect(page.getByTestId('repo-preselected')).toHaveCount(0);
  // Its files stay listed and loadable, for whoever knows better.
  await expect(page.getByRole('table', { name: /ONNX files in acme\/tiny-minilm/ }).getByRole('button', { name: 'Load onnx/model.onnx' })).toBeEnabled();
});

test('fetches external weights and config.json beside the model and runs it', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  await useLocalHub(page);
  await loadSource(page, `${hub.endpoint}/acme/big-encoder/resolve/main/model.onnx`);
  const summary = page.getByTestId('encoder-summary');
  await expect(page.getByTestId('encoder-sha256')).toHaveText(sha256(EXTERNAL.model));
  await expect(summary).toContainText('model.onnx_data');
  await expect(summary).toContainText('model_type resnet');
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText('[2, 128]');
  expect(hub.fileRequests.map((r) => r.path.split('/').pop())).toEqual(expect.arrayContaining(['model.onnx', 'model.onnx_data', 'config.json']));
});

test('resumes a download after the connection breaks', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  // The browser logs the broken transfer itself; the app resumes it.
  guard.allowConsoleErrors(/ERR_CONTENT_LENGTH_MISMATCH|Failed to load resource/);
  await useLocalHub(page);
  await loadSource(page, `${hub.endpoint}/acme/flaky/resolve/main/model.onnx`);
  await expect(page.getByTestId('encoder-sha256')).toHaveText(sha256(ENCODER));
  const requests = hub.fileRequests.filter((r) => r.path.includes('/acme/flaky/') && r.path.endsWith('/model.onnx'));
  expect(requests).toHaveLength(2);
  expect(requests[0]!.range).toBeNull();
  expect(requests[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
  // Both went through the redirect; the resume asked the CDN for the rest, If-Range on its ETag.
  const cdn = hub.cdnRequests.filter((r) => r.repo === 'acme/flaky');
  expect(cdn).toHaveLength(2);
  expect(cdn[1]).toMatchObject({ range: requests[1]!.range, ifRange: `"${sha256(ENCODER)}"` });
});

test('a cancelled download leaves nothing in browser storage', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  guard.allowConsoleErrors(/Failed to load resource|aborted/i);
  await useLocalHub(page);
  await loadSource(page, `${hub.endpoint}/acme/slow/resolve/main/model.onnx`);
  const progress = page.getByTestId('download-progress');
  await expect(progress).toContainText(/of 1\.\d MB · [1-9]\d*%/);
  await progress.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('alert')).toContainText(/cancelled/i);
  // Bytes had streamed into the cache when the transfer stopped; none of them stay there.
  const stored = await page.evaluate(async () => {
    const keys = async (name: string) => (await (await caches.open(name)).keys()).map((r) => r.url);
    return [...(await keys('dede-models-v1')), ...(await keys('dede-models-v1-meta'))];
  });
  expect(stored.filter((u) => u.includes('/acme/slow/'))).toEqual([]);
  await expect(page.getByRole('region', { name: 'Saved models' })).not.toContainText('acme/slow');
});

test('explains 401, 404 and files that are not ONNX', async ({ page, guard }) => {
  guard.allowOrigin(hub.endpoint);
  // The browser logs failed fetches itself; the app shows them as messages.
  guard.allowConsoleErrors(/Failed to load resource|401|404/);
  await useLocalHub(page);
  await loadSource(page, 'acme/gated');
  await expect(page.getByRole('alert')).toContainText(/gated or private.*access token/);
  await page.getByLabel('Access token').fill(HUB_TOKEN);
  await loadSource(page, 'acme/gated');
  await page.getByRole('button', { name: 'Load model.onnx' }).click();
  await expect(page.getByTestId('encoder-sha256')).toHaveText(sha256(ENCODER));

  await loadSource(page, 'acme/tiny-encoder/resolve/main/missing.onnx'.replace(/^/, `${hub.endpoint}/`));
  await expect(page.getByRole('alert')).toContainText(/HTTP 404.*check the repo name/);
  await loadSource(page, `${hub.endpoint}/acme/broken/resolve/main/fake.onnx`);
  await expect(page.getByRole('alert')).toContainText(/fake\.onnx is not a usable ONNX model/);
  await loadSource(page, 'not a model');
  await expect(page.getByRole('alert')).toContainText(/spaces/);
  await page.screenshot({ path: 'test-results/screens/encoder-errors.png' });
});

test('picks the embedding readout from config.json, asks when nothing decides, and keeps the choice across a reload', async ({ page }) => {
  await page.goto('/');
  const input = page.getByTestId('encoder-file-input');
  const picker = page.getByTestId('readout-picker');
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));

  // A ResNetModel export with its config.json: pooler_output [N, C, 1, 1], flattened.
  await input.setInputFiles([
    { name: 'model.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(resnetModelBytes()) },
    { name: 'config.json', mimeType: 'application/json', buffer: json({ model_type: 'resnet' }) },
  ]);
  await expect(page.getByTestId('encoder-summary')).toContainText('model_type resnet');
  await expect(picker.getByRole('combobox')).toHaveValue('pooler_output:flatten');
  await expect(page.getByTestId('readout-reason')).toHaveText(`${HF.channels} values per image · model_type resnet: pooler_output [batch_size, 16, 1, 1] is the network's global average pool of its last feature map, flattened.`);
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText(`[2, ${HF.channels}]`);

  // A float16 ViT export runs in the browser too (float16 in, float16 out, converted at the boundary).
  await input.setInputFiles([
    { name: 'model_fp16.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(withIoType(vitModelBytes(), 'float16')) },
    { name: 'config.json', mimeType: 'application/json', buffer: json({ model_type: 'dinov2' }) },
  ]);
  await expect(page.getByTestId('encoder-summary')).toContainText('pixel_values: float16');
  await expect(picker.getByRole('combobox')).toHaveValue('last_hidden_state:cls');
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText(`[2, ${HF.hidden}]`);

  // Two candidate outputs and no config.json: no guess; the user chooses.
  await input.setInputFiles([{ name: 'vit.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(vitModelBytes()) }]);
  await expect(page.getByTestId('readout-question')).toContainText("the model has 2 candidate outputs ('last_hidden_state' [batch_size, 17, 16]");
  await expect(picker.getByRole('combobox')).toHaveValue('');
  await expect(page.getByRole('button', { name: 'Test run' })).toBeVisible();
  await picker.getByRole('combobox').selectOption('last_hidden_state:patch-mean');
  await expect(page.getByTestId('readout-reason')).toHaveText(`${HF.hidden} values per image · chosen on the Encoder step.`);
  await page.screenshot({ path: 'test-results/screens/encoder-readout.png', fullPage: true });
  await page.reload();
  await expect(page.getByTestId('readout-picker').getByRole('combobox')).toHaveValue('last_hidden_state:patch-mean');
  await page.getByRole('button', { name: 'Test run' }).click();
  await expect(page.getByTestId('encoder-test-run')).toContainText(`[2, ${HF.hidden}]`);
});

test('an encoder saved before readouts existed loads with its output as the embedding', async ({ page }) => {
  const info = inspectModel(tinyEncoderBytes());
  const saved = {
    state: {
      encoder: {
        key: 'http://127.0.0.1/__local-models__/x/tiny.onnx', name: 'tiny.onnx', origin: 'local', sourceUrl: 'tiny.onnx', repo: null, revision: null, commit: null,
        size: 1, sha256: sha256(ENCODER), externalData: [], info,
        check: { ok: true, input: 'pixel_values', output: 'embedding', embeddingDim: 128, inputSize: { h: 32, w: 32 } },
        embeddingOutput: 'embedding', preprocessing: null, preprocessingNote: 'No preprocessor_config.json beside the model.', notices: [], modelConfig: null,
      },
      hubEndpoint: 'https://huggingface.co',
      rememberToken: false,
    },
    version: 1,
  };
  await page.addInitScript((value) => {
    if (!sessionStorage.getItem('seeded')) {
      localStorage.setItem('dede-web/encoder', value);
      sessionStorage.setItem('seeded', '1');
    }
  }, JSON.stringify(saved));
  await page.goto('/');
  await expect(page.getByTestId('encoder-sha256')).toHaveText(sha256(ENCODER));
  await expect(page.getByTestId('readout-picker').getByRole('combobox')).toHaveValue('embedding');
  await expect(page.getByTestId('readout-reason')).toHaveText('128 values per image · embedding is the output this encoder used before embedding readouts could be chosen.');
  expect(JSON.parse((await page.evaluate(() => localStorage.getItem('dede-web/encoder')))!)).toMatchObject({ version: 2, state: { encoder: { readout: { output: 'embedding', pooling: 'none', dim: 128 } } } });
});
