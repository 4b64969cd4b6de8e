import { describe, expect, it } from 'vitest';
import { framingProblems } from './framing';
import { preprocessingFromHf } from './preprocess';

const clip = preprocessingFromHf({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 224 }, crop_size: { height: 224, width: 224 }, do_center_crop: true, resample: 3 }, null);

describe('framingProblems', () => {
  it('accepts a folder framed by the encoder’s own plan', () => {
    expect(framingProblems({ name: 'a', layout: { size: 224 }, resize: clip.resize!.description }, clip)).toEqual([]);
  });
  it('says when the size differs', () => {
    expect(framingProblems({ name: 'a', layout: { size: 32 }, resize: null }, clip)).toEqual([expect.stringMatching(/a is stored at 32×32 but the encoder wants 224×224/)]);
  });
  it('says when the folder was cropped by the working-size settings or another plan', () => {
    expect(framingProblems({ name: 'a', layout: { size: 224 }, resize: null }, clip)).toEqual([expect.stringMatching(/cropped by the Images step’s settings.*expects “resize short edge to 224 \(bicubic\)/)]);
    expect(framingProblems({ name: 'a', layout: { size: 224 }, resize: 'resize to 224×224 (bilinear)' }, clip)).toEqual([expect.stringMatching(/processed as “resize to 224×224 \(bilinear\)”/)]);
  });
  it('leaves folders saved before plans existed alone', () => {
    expect(framingProblems({ name: 'a', layout: { size: 224 } }, clip)).toEqual([]);
  });
});
