import { describe, expect, it } from 'vitest';
import { histogramSvg, rocSvg } from './charts';
import { escapeHtml } from './html-escape';
import { buildHtmlReport, type HtmlReportInput } from './html-report';
import { pngDataUrl } from './png';
import { SCAN_REPORT_VERSION, type ScanReport } from './scan-report';

const HOSTILE = [`<script>alert(1)</script>.png`, `=cmd<b>"x".png`, `'onerror='alert(1)'.png`, '`tick`&amp;.png', '"><img src=x onerror=alert(1)>'];

describe('escapeHtml', () => {
  it('escapes every character that can end text, a tag or an attribute', () => {
    expect(escapeHtml(`<script>alert("x")</script>`)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(escapeHtml(`=cmd<b>"x".png`)).toBe('=cmd&lt;b&gt;&quot;x&quot;.png');
    expect(escapeHtml(`it's \`a\` & b`)).toBe('it&#39;s &#96;a&#96; &amp; b');
    expect(escapeHtml('&lt;')).toBe('&amp;lt;'); // no double-decoding shortcuts
    expect(escapeHtml(42)).toBe('42');
    expect(escapeHtml(null)).toBe('null');
  });
  it('leaves no raw markup characters in hostile names', () => {
    for (const s of HOSTILE) expect(escapeHtml(s)).not.toMatch(/[<>"'`]/);
  });
});

function input(paths: readonly string[]): HtmlReportInput {
  const images = paths.map((path, i) => ({ path, score: 1 - i * 0.1, dedeScore: 10 - i, pValue: 0.01 * (i + 1), flagged: i < 3 }));
  const report: ScanReport = {
    format: 'dede-scan-report',
    version: SCAN_REPORT_VERSION,
    createdAt: '2025-01-01T00:00:00.000Z',
    tool: { name: 'dede-web', version: '0.1.0' },
    encoder: { name: '<enc>.onnx', sha256: 'a'.repeat(64), readout: { output: 'last_hidden_state', pooling: 'cls', reason: 'model_type <vit>.', dim: 768 } },
    decoder: { name: 'decoder"x.onnx', sha256: 'b'.repeat(64) },
    settings: { note: '<i>hi</i>', nested: { a: '</dd><script>' } },
    threshold: 0.5,
    calibration: { method: { method: 'fpr', target: 0.05 } },
    summary: { scanned: images.length, flagged: 3, unreadable: 1 },
    images,
    unreadable: [{ path: '<bad>.png', reason: 'not an <image>' }],
  };
  const px = pngDataUrl(new Uint8Array(4 * 4 * 3).fill(200), 4, 4);
  return {
    report,
    encoderFacts: { Revision: 'main<script>', Commit: null },
    decoderFacts: { Run: 'r"1' },
    calibratedThreshold: 0.6,
    folders: [{ name: 'suspect<x>', role: 'Suspect', count: images.length, flagged: 3 }],
    histogramSvg: histogramSvg([{ label: '<clean>', values: [0.1, 0.2, 0.3], color: '#4477aa' }, { label: 'suspect', values: images.map((i) => i.score), color: '#ee6677' }], 0.5, { title: 'scores "x"' }),
    evaluation: { definition: 'pos <p>', auroc: 0.9, positives: 2, negatives: 3, tp: 2, fp: 1, tn: 2, fn: 0, tpr: 1, fpr: 1 / 3, rocSvg: rocSvg([{ fpr: 0, tpr: 0 }, { fpr: 0.5, tpr: 1 }, { fpr: 1, tpr: 1 }], { fpr: 1 / 3, tpr: 1 }, 'ROC') },
    top: images.slice(0, 3).map((i) => ({ ...i, folder: 'suspect<x>', original: px, heatmap: px })),
    flaggedTotal: 3,
    triggerMap: { image: px, note: 'note <b>' },
    clusters: [],
    colormap: 'viridis',
    tagged: [{ path: '<tag>".png', folder: 'f', tag: 'poisoned', score: 0.2, flagged: false }],
    privacy: { policies: ["default-src 'self'; connect-src 'self' https://huggingface.co", "connect-src 'self' <x>"], network: '2 downloads from huggingface.co · 0 bytes of your data sent' },
  };
}

describe('buildHtmlReport', () => {
  const html = buildHtmlReport(input(HOSTILE));

  it('is one document with no scripts and no external references', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\son\w+\s*=/i); // no event-handler attributes
    // The policies in force name hosts as text; nothing else may.
    expect(html.replace(/<pre class="policy">[^<]*<\/pre>/g, '')).not.toMatch(/https?:|\/\/[a-z]/i);
    expect(html).not.toMatch(/<link|@import|url\(/i);
    const srcs = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(srcs.length).toBeGreaterThan(0);
    for (const s of srcs) expect(s).toMatch(/^data:image\/png;base64,/);
    expect(html).toContain("default-src 'none'");
  });

  it('escapes every outside string', () => {
    expect(html).toContain('=cmd&lt;b&gt;&quot;x&quot;.png');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.png');
    expect(html).toContain('&lt;enc&gt;.onnx');
    expect(html).toContain('main&lt;script&gt;');
    expect(html).toContain('&lt;bad&gt;.png');
    expect(html).toContain('&lt;clean&gt;');
    expect(html).toContain('&lt;tag&gt;&quot;.png');
    // The settings' nested JSON is escaped too.
    expect(html).toContain('&lt;/dd&gt;&lt;script&gt;');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<i>');
  });

  it('shows the summary, hashes, charts, evaluation and images', () => {
    expect(html).toContain('a'.repeat(64));
    expect(html).toContain('b'.repeat(64));
    expect(html.match(/<svg/g)).toHaveLength(2);
    expect(html).toContain('AUROC');
    expect(html).toContain('moved in review; calibrated τ = 0.6000');
    expect(html.match(/<img /g)).toHaveLength(7);
  });

  it("describes the encoder's embedding readout: output, pooling, size and why", () => {
    expect(html).toContain('<dt>Embedding</dt><dd>last_hidden_state, CLS token (token 0) → 768 values (model_type &lt;vit&gt;)</dd>');
    const { readout: _none, ...older } = input(HOSTILE).report.encoder;
    expect(buildHtmlReport({ ...input(HOSTILE), report: { ...input(HOSTILE).report, encoder: older } })).not.toContain('<dt>Embedding</dt>');
  });

  it("states how the decoder's training ended, when the report records it", () => {
    expect(html).not.toContain('<dt>Training</dt>');
    const base = input(HOSTILE).report;
    const training = { epochs: 31, steps: 713, stoppedBy: 'converged', convergedAtEpoch: 31, heldBackLoss: 0.41234 };
    expect(buildHtmlReport({ ...input(HOSTILE), report: { ...base, decoder: { ...base.decoder, training } } })).toContain('<dt>Training</dt><dd>converged at epoch 31 (held-back loss 0.412)</dd>');
  });

  it('shows the fused verdict and its components when the scan has them', () => {
    const base = input(HOSTILE);
    const fused = buildHtmlReport({
      ...base,
      report: { ...base.report, settings: { verdict: { kind: 'fused', targetFpr: 0.05, k: 5, referenceImages: 200, weights: { dede: 0.7, collapse: 0.3 } } } },
      top: base.top.map((t, i) => ({ ...t, decoderScore: 0.7 + i, decoderPValue: 0.2, collapseScore: 0.987, collapsePValue: 0.004975 })),
    });
    expect(fused).toContain('<th>Decoder score</th><th>Collapse score</th>');
    expect(fused).toContain('0.987');
    expect(fused).toContain('p 0.00498');
    expect(fused).toMatch(/against 200 clean reference images.*5\.0% target false-positive rate \(decoder 70% of it, collapse 30%\)/);
    const shut = buildHtmlReport({ ...base, report: { ...base.report, settings: { verdict: { kind: 'fused', targetFpr: 0.05, k: 5, referenceImages: 200, weights: { dede: 1, collapse: 0 }, gate: { k: 3, level: 0.15, floorHits: 2, needed: 4, open: false } } } } });
    expect(shut).toContain('(decoder 100% of it, collapse 0%). No collapse found: 2 scanned images sat closer to their nearest neighbours than every clean reference image');
    // Without components the table keeps its plain columns.
    expect(buildHtmlReport(base)).not.toContain('Collapse score');
  });

  it("names decoderScore's components with their z and share of the score", () => {
    const base = input(HOSTILE);
    // z = (3, 1, −2): positive parts 3 and 1, shares 75%, 25%, 0%; (1, 1, 2): 25%, 25%, 50%.
    const zs = [[3, 1, -2], [1, 1, 2], [-1, -1, -1]] as const;
    const html = buildHtmlReport({ ...base, top: base.top.map((t, i) => ({ ...t, decoderScore: 1, decoderPValue: 0.01, semanticZ: zs[i]![0], lowPassZ: zs[i]![1], flipZ: zs[i]![2], medianPatchError: 0.1 })) });
    expect(html).toContain('<th>Decoder score</th></tr>');
    expect(html).toContain('z: semantic 3.00, low-pass 1.00, flip -2.00; share semantic 75% · low-pass 25% · flip 0%');
    expect(html).toContain('z: semantic -1.00, low-pass -1.00, flip -1.00</span>');
    // The mean over the two images with a positive z: (75 + 25)/2, (25 + 25)/2, (0 + 50)/2.
    expect(html).toContain('Mean shares over these 2 images: semantic 50% · low-pass 25% · flip 25%.');
  });

  it('shows each revealed cluster with its target, trigger map and members', () => {
    const base = input(HOSTILE);
    const px = base.top[0]!.original!;
    const withClusters = buildHtmlReport({
      ...base,
      clusters: [
        {
          size: 40, cohesion: 0.98765, target: px, targetCaption: 'revealed target (contrast matched to clean photos)', triggerMap: px, peak: { x: 25, y: 26 }, members: [{ path: '<m1>.png', folder: 'suspect' }, { path: 'm2.png', folder: 'suspect' }],
          seenAs: {
            headline: 'The encoder sees these photos as “<truck>”',
            scale: 'Nearest clean photo at similarity 0.79',
            title: 'Nearest “truck” photos',
            examples: [{ image: px, path: 'clean/truck/a.png', label: 'truck', similarity: 0.7012 }, { image: null, path: 'clean/truck/b.png', label: 'truck', similarity: 0.65 }],
            nearest: [{ image: px, path: 'clean/horse/c.png', label: 'horse', similarity: 0.79 }],
          },
        },
        { size: 3, cohesion: 0.9, target: px, targetCaption: '<revealed>', triggerMap: null, peak: null, members: [{ path: 'a.png', folder: 'x' }, { path: 'b.png', folder: 'x' }, { path: 'c.png', folder: 'x' }] },
      ],
    });
    expect(withClusters).toContain('<h2>Clusters: what the backdoor maps to</h2>');
    expect(withClusters).toContain('<p><strong>The encoder sees these photos as “&lt;truck&gt;”</strong></p>');
    expect(withClusters).toContain('<p class="muted">Nearest “truck” photos</p>');
    expect(withClusters).toContain('truck<br><span class="num">0.70</span><br><code class="muted">clean/truck/a.png</code>');
    expect(withClusters).toContain('image not available on this machine');
    expect(withClusters).toContain('<p class="muted">Nearest of all clean photos</p>');
    expect(withClusters).toContain('horse<br><span class="num">0.79</span>');
    expect(withClusters).toContain('Cluster 1: 40 images</strong>, cohesion 0.988');
    expect(withClusters).toContain('peak row 26, column 25');
    expect(withClusters).toContain('&lt;m1&gt;.png');
    expect(withClusters).toContain('… and 38 more');
    expect(withClusters).toContain('Cluster 2: 3 images');
    expect(withClusters).toContain('<figcaption class="muted">revealed target (contrast matched to clean photos)</figcaption>');
    expect(withClusters).toContain('&lt;revealed&gt;');
    expect(withClusters).not.toContain('… and 0 more');
    // 7 images before, plus two targets, one trigger map and two example photos (one has no pixels).
    expect(withClusters.match(/<img /g)).toHaveLength(12);
    expect(() => buildHtmlReport({ ...base, clusters: [{ size: 1, cohesion: 1, target: 'blob:x', targetCaption: 'x', triggerMap: null, peak: null, members: [] }] })).toThrow(/data URLs/);
    expect(buildHtmlReport(base)).not.toContain('Clusters: what the backdoor maps to');
  });

  it('records the security policies in force and the measured network use', () => {
    const section = /<section><h2>Privacy<\/h2>.*?<\/section>/s.exec(html)?.[0] ?? '';
    expect(section).toContain('<dd>2 downloads from huggingface.co · 0 bytes of your data sent</dd>');
    const policies = [...section.matchAll(/<pre class="policy">([^<]*)<\/pre>/g)].map((m) => m[1]);
    expect(policies).toEqual(["default-src &#39;self&#39;;\nconnect-src &#39;self&#39; https://huggingface.co", "connect-src &#39;self&#39; &lt;x&gt;"]);
    const none = buildHtmlReport({ ...input(HOSTILE), privacy: { policies: [], network: '0 bytes sent' } });
    expect(none).toContain('ran without a Content-Security-Policy');
  });

  it('writes a CLI report: images not readable here, no heatmaps, no policy, every shard\'s gate', () => {
    const base = input(HOSTILE);
    const cli = buildHtmlReport({
      ...base,
      top: base.top.map((t, i) => ({ ...t, original: i === 1 ? null : t.original, heatmap: null })),
      privacy: { policies: [], network: 'dede CLI on <host>, no network use by the scan', noPolicy: 'None: a command-line run has no Content-Security-Policy.' },
      shards: [
        { index: 0, file: 'part-0.jsonl', scanned: 10, flagged: 4, gate: { k: 3, level: 0.15, floorHits: 5, needed: 2, open: true }, gateDependent: 3 },
        { index: 1, file: '<part-1>.jsonl', scanned: 9, flagged: 1, gate: { k: 3, level: 0.15, floorHits: 0, needed: 2, open: false }, gateDependent: 0 },
      ],
    });
    // The second image's cell says why it has no thumbnail; the others keep theirs; no heatmap column.
    const table = /<section><h2>Top flagged images<\/h2>.*?<\/section>/s.exec(cli)![0];
    expect(table.match(/<span class="muted">image not available on this machine<\/span>/g)).toHaveLength(1);
    expect(table.match(/<img /g)).toHaveLength(base.top.length - 1);
    expect(table).not.toContain('<th>Error</th>');
    expect(table).not.toContain('Heatmaps show');
    expect(cli).toContain('<p>None: a command-line run has no Content-Security-Policy.</p>');
    expect(cli).toContain('<dd>dede CLI on &lt;host&gt;, no network use by the scan</dd>');
    const shards = /<section><h2>Shards<\/h2>.*?<\/section>/s.exec(cli)![0];
    expect(shards).toContain('scanned in 2 shards');
    expect(shards).toContain('(open in 1, shut in 1)');
    expect(shards).toContain('<td class="num">0</td><td class="path"><code>part-0.jsonl</code></td><td class="num">10</td><td class="num">4</td><td><strong>open</strong> <span class="muted">Collapse found: 5 scanned images');
    expect(shards).toContain('<code>&lt;part-1&gt;.jsonl</code>');
    expect(shards).toContain('<strong>shut</strong> <span class="muted">No collapse found: 0 scanned images');
    expect(shards).toMatch(/<td class="num">3<\/td><\/tr>/);
    expect(html).not.toContain('<h2>Shards</h2>');
  });

  it('refuses images that are not inline PNGs', () => {
    const bad = input(['a.png']);
    expect(() => buildHtmlReport({ ...bad, top: [{ ...bad.top[0]!, original: 'https://example.com/x.png' }] })).toThrow(/data URLs/);
    expect(() => buildHtmlReport({ ...bad, top: [{ ...bad.top[0]!, original: 'data:image/png;base64,AAA" onload="x' }] })).toThrow(/data URLs/);
  });
});
