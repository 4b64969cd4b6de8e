import { describe, expect, it } from 'vitest';
import { configCandidatePaths, configCandidateUrls, describeRepoConfig, describeUrlConfig, nearestConfigPath } from './config-lookup';

describe('configCandidatePaths', () => {
  it('walks from the model folder up to the repo root, nearest first', () => {
    expect(configCandidatePaths('onnx/vision_model.onnx', 'preprocessor_config.json')).toEqual(['onnx/preprocessor_config.json', 'preprocessor_config.json']);
    expect(configCandidatePaths('model.onnx', 'config.json')).toEqual(['config.json']);
    expect(configCandidatePaths('a/b/c/m.onnx', 'config.json')).toEqual(['a/b/c/config.json', 'a/b/config.json', 'a/config.json', 'config.json']);
    expect(configCandidatePaths('/onnx/m.onnx', 'config.json')).toEqual(['onnx/config.json', 'config.json']);
  });
});

describe('nearestConfigPath', () => {
  const xenovaClip = new Set(['config.json', 'preprocessor_config.json', 'tokenizer.json', 'onnx/model.onnx', 'onnx/vision_model.onnx', 'onnx/vision_model_fp16.onnx']);
  it('finds the root config of the transformers.js layout', () => {
    expect(nearestConfigPath('onnx/vision_model.onnx', 'preprocessor_config.json', xenovaClip)).toBe('preprocessor_config.json');
  });
  it('prefers the one beside the model', () => {
    const files = new Set([...xenovaClip, 'onnx/preprocessor_config.json']);
    expect(nearestConfigPath('onnx/vision_model.onnx', 'preprocessor_config.json', files)).toBe('onnx/preprocessor_config.json');
  });
  it('is null when no folder on the way has it (a config in a sibling folder does not count)', () => {
    expect(nearestConfigPath('onnx/model.onnx', 'preprocessor_config.json', new Set(['onnx/model.onnx', 'other/preprocessor_config.json']))).toBeNull();
  });
});

describe('configCandidateUrls', () => {
  it('walks up the URL path at most three folders and stops at the host root', () => {
    expect(configCandidateUrls('https://example.org/models/enc/onnx/model.onnx?x=1', 'preprocessor_config.json')).toEqual([
      'https://example.org/models/enc/onnx/preprocessor_config.json',
      'https://example.org/models/enc/preprocessor_config.json',
      'https://example.org/models/preprocessor_config.json',
    ]);
    expect(configCandidateUrls('https://example.org/onnx/model.onnx', 'config.json')).toEqual(['https://example.org/onnx/config.json', 'https://example.org/config.json']);
    expect(configCandidateUrls('https://example.org/model.onnx', 'config.json')).toEqual(['https://example.org/config.json']);
    expect(configCandidateUrls('https://example.org/a/b/c/d/model.onnx', 'config.json', 2)).toHaveLength(2);
  });
});

describe('describing where a config came from', () => {
  it('says beside the model, at the repo root, or which folder', () => {
    expect(describeRepoConfig('preprocessor_config.json', 'onnx/model.onnx')).toBe('preprocessor_config.json at the repo root');
    expect(describeRepoConfig('onnx/preprocessor_config.json', 'onnx/model.onnx')).toBe('preprocessor_config.json beside the model');
    expect(describeRepoConfig('config.json', 'model.onnx')).toBe('config.json beside the model');
    expect(describeRepoConfig('vision/config.json', 'vision/onnx/model.onnx')).toBe('config.json in vision/');
  });
  it('counts folders for plain links', () => {
    expect(describeUrlConfig('https://x.org/m/onnx/config.json', 'https://x.org/m/onnx/model.onnx')).toBe('config.json beside the model');
    expect(describeUrlConfig('https://x.org/m/config.json', 'https://x.org/m/onnx/model.onnx')).toBe('config.json one folder above the model');
    expect(describeUrlConfig('https://x.org/config.json', 'https://x.org/m/onnx/model.onnx')).toBe('config.json 2 folders above the model');
  });
});
