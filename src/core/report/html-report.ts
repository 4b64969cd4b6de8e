// A single self-contained HTML report of a scan: no scripts, no external references; charts are
// inline SVG, images inline PNG data URLs, and every string from the outside is HTML-escaped.
import type { Confusion } from '../dede/metrics';
import { describeCollapseGate, type CollapseGate } from '../dede/set-scan';
import { describeReadoutRecord } from '../onnx/readout';
import { escapeHtml } from './html-escape';
import { COMPONENT_NAMES, componentShares, type ComponentShares, type ComponentWeights, type DecoderComponents, meanComponentShares, reportComponentWeights, type ScanReport, trainingRecordText } from './scan-report';

export const HTML_REPORT_VERSION = 1;

/** With decoderScore's components (ScannedImage) when the scan has them. */
export interface HtmlReportImage extends Partial<DecoderComponents> {
  readonly path: string;
  readonly folder: string;
  readonly score: number;
  readonly dedeScore: number;
  readonly pValue: number;
  /** The verdict's components, when the scan fused them (see ScannedImage). */
  readonly decoderScore?: number;
  readonly decoderPValue?: number;
  readonly collapseScore?: number;
  readonly collapsePValue?: number;
  /**
   * data:image/png;base64,… of the original (working resolution), or null when the image could not
   * be read where the report was made (a merged CLI report built away from the scanned files).
   */
  readonly original: string | null;
  /** data:image/png;base64,… of the error heatmap over the image, or null when unavailable. */
  readonly heatmap: string | null;
}

export interface HtmlReportEvaluation extends Pick<Confusion, 'tp' | 'fp' | 'tn' | 'fn' | 'tpr' | 'fpr'> {
  /** Plain-language definition of positives and negatives. */
  readonly definition: string;
  readonly auroc: number;
  readonly positives: number;
  readonly negatives: number;
  /** Inline SVG of the ROC curve (built by charts.rocSvg). */
  readonly rocSvg: string;
}

/** One group of flagged images sharing an embedding direction, with what it decodes to. */
export interface HtmlReportCluster {
  readonly size: number;
  /** Mean cosine of the members to the cluster's direction (1 = all on one embedding). */
  readonly cohesion: number;
  /** data:image/png;base64,… of the decoded mean embedding (no visible patches). */
  readonly target: string;
  /** The caption under the target (says whether its contrast was matched to clean photos). */
  readonly targetCaption: string;
  /** data:image/png;base64,… of the cluster's trigger map, or null when unavailable. */
  readonly triggerMap: string | null;
  readonly peak: { readonly x: number; readonly y: number } | null;
  /** Member paths (possibly the first few only) and how many there are in all. */
  readonly members: readonly { readonly path: string; readonly folder: string }[];
  /** The clean photos the encoder sees the cluster as (absent: revealed before reveal by example). */
  readonly seenAs?: HtmlReportSeenAs;
}

export interface HtmlReportExample {
  /** data:image/png;base64,… thumbnail, or null when its pixels are not available. */
  readonly image: string | null;
  readonly path: string;
  readonly label: string | null;
  readonly similarity: number;
}

export interface HtmlReportSeenAs {
  readonly headline: string;
  readonly scale: string;
  readonly title: string;
  readonly examples: readonly HtmlReportExample[];
  /** The nearest of all clean photos, when they are not the examples already shown. */
  readonly nearest: readonly HtmlReportExample[] | null;
}

export interface HtmlReportPrivacy {
  /** Every Content-Security-Policy the app enforced when the report was made (all apply at once). */
  readonly policies: readonly string[];
  /** One line on the network use measured in the app, e.g. "2 downloads from huggingface.co · 0 bytes of your data sent". */
  readonly network: string;
  /** What to say when no policy applied (default: the app's development server); the CLI has none. */
  readonly noPolicy?: string;
}

/** One shard of a sharded CLI scan (dede merge): its part and the collapse gate it decided. */
export interface HtmlReportShard {
  readonly index: number;
  readonly file: string;
  readonly scanned: number;
  readonly flagged: number;
  readonly gate: CollapseGate | null;
  /** Images whose flag would change had this shard's gate gone the other way. */
  readonly gateDependent: number;
}

export interface HtmlReportInput {
  /** The report's head: the HTML shows its summary and the top images, not every image. */
  readonly report: Omit<ScanReport, 'images'>;
  /** Extra model facts (revision, commit, repository) shown with the hashes. */
  readonly encoderFacts: Readonly<Record<string, string | null>>;
  readonly decoderFacts: Readonly<Record<string, string | null>>;
  /** The threshold the calibration gave, when the reviewer moved it (report.threshold is the one applied). */
  readonly calibratedThreshold: number;
  readonly folders: readonly { readonly name: string; readonly role: string; readonly count: number; readonly flagged: number }[];
  /** Inline SVG of the score histogram (charts.histogramSvg). */
  readonly histogramSvg: string;
  readonly evaluation: HtmlReportEvaluation | null;
  readonly top: readonly HtmlReportImage[];
  /** How many flagged images exist in all (the top list may be a part). */
  readonly flaggedTotal: number;
  readonly triggerMap: { readonly image: string; readonly note: string } | null;
  /** Revealed clusters (the review's clusters view), empty when none were revealed for this scan. */
  readonly clusters: readonly HtmlReportCluster[];
  readonly colormap: string;
  /** Where the scan ran: the page's security policy and what it sent, as measured in the app. */
  readonly privacy: HtmlReportPrivacy;
  /** The reviewer's verdicts. */
  readonly tagged: readonly { readonly path: string; readonly folder: string; readonly tag: string; readonly score: number; readonly flagged: boolean }[];
  /** The shards of a merged sharded scan, each with its own collapse gate (absent: one scan). */
  readonly shards?: readonly HtmlReportShard[];
}

/** Where the top list has no thumbnail of an image: the report was built away from the files. */
export const IMAGE_NOT_AVAILABLE = 'image not available on this machine';

const DATA_PNG = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

function img(src: string, alt: string, cls: string): string {
  // Only inline PNGs: a path or URL would make the report depend on something outside it.
  if (!DATA_PNG.test(src)) throw new Error('HTML report images must be PNG data URLs.');
  return `<img class="${cls}" src="${src}" alt="${escapeHtml(alt)}" width="96" height="96">`;
}

const num = (v: number, digits = 5): string => (Number.isFinite(v) ? v.toPrecision(digits) : String(v));

const sharesText = (s: ComponentShares): string =>
  (Object.keys(COMPONENT_NAMES) as (keyof ComponentShares)[]).map((k) => `${COMPONENT_NAMES[k]} ${(s[k] * 100).toFixed(0)}%`).join(' · ');

/** One image's decoderScore components: each z and its share (§5.3.2). */
function componentsText(t: HtmlReportImage, weights: ComponentWeights): string {
  if (t.semanticZ === undefined) return t.medianPatchError !== undefined ? `<br><span class="muted">median patch error ${escapeHtml(num(t.medianPatchError, 3))}</span>` : '';
  const shares = componentShares(t, weights);
  return `<br><span class="muted">z: semantic ${escapeHtml(num(t.semanticZ, 3))}, low-pass ${escapeHtml(num(t.lowPassZ ?? NaN, 3))}, flip ${escapeHtml(num(t.flipZ ?? NaN, 3))}${shares ? `; share ${escapeHtml(sharesText(shares))}` : ''}</span>`;
}

/** What raised the flagged images' decoderScore, on average over the top list (§5.3.2). */
function componentsNote(top: readonly HtmlReportImage[], weights: ComponentWeights): string {
  const mean = meanComponentShares(top, weights);
  if (!mean) return '';
  return `<p class="muted">Decoder score = weighted mean of three robust z-scores on the calibration's clean images (weights ${escapeHtml(sharesText(weights))}, each the inverse of the component's variance on those images): semantic (the encoder's embedding of the reconstruction against the image's), low-pass (the reconstruction's coarse colour layout against the image's) and flip (how far a mirror image moves the embedding, either way). A component's share of an image's score is its positive weighted z over the sum of the positive weighted z's. Mean shares over these ${mean.images} images: ${escapeHtml(sharesText(mean.shares))}.</p>`;
}
const pct = (v: number | null): string => (v === null ? '—' : `${(v * 100).toFixed(1)}%`);

function valueText(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function facts(rows: readonly (readonly [string, unknown])[]): string {
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(valueText(v))}</dd>`).join('')}</dl>`;
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1a1d21;--bg:#fff;--muted:#5a6270;--border:#d9dde3;--flag:#8a1414}
@media (prefers-color-scheme:dark){:root{--fg:#e7e9ee;--bg:#16181c;--muted:#a3abb8;--border:#343a44;--flag:#ffb4b4}svg{background:#fff;border-radius:6px}}
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{margin-bottom:.25rem}h2{margin-top:2rem;border-bottom:1px solid var(--border);padding-bottom:.25rem}
.muted{color:var(--muted)}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--border);vertical-align:middle}
td.path{overflow-wrap:anywhere;max-width:22rem}.num{font-variant-numeric:tabular-nums}
img.px{image-rendering:pixelated;border-radius:4px;border:1px solid var(--border)}
.metrics{display:flex;flex-wrap:wrap;gap:1.5rem}.metrics div{display:grid}.metrics strong{font-size:1.3rem}
.flag{color:var(--flag);font-weight:600}ol.clusters{padding-left:1.2rem}li.cluster{margin:.75rem 0}.cluster-images{display:flex;gap:.5rem;margin:.5rem 0}ol.examples{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem}ol.examples figure{width:96px;overflow-wrap:anywhere}figure{margin:0;text-align:center;font-size:.8rem}pre.policy{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8rem;border:1px solid var(--border);border-radius:6px;padding:.5rem}.legend{height:10px;width:12rem;border-radius:3px;display:inline-block;vertical-align:middle}
`;

function exampleRow(title: string, photos: readonly HtmlReportExample[]): string {
  const items = photos
    .map((p) => {
      const picture = p.image ? img(p.image, p.path, 'px ex') : `<span class="muted">${escapeHtml(IMAGE_NOT_AVAILABLE)}</span>`;
      return `<li><figure>${picture}<figcaption>${p.label ? `${escapeHtml(p.label)}<br>` : ''}<span class="num">${escapeHtml(p.similarity.toFixed(2))}</span><br><code class="muted">${escapeHtml(p.path)}</code></figcaption></figure></li>`;
    })
    .join('');
  return `<p class="muted">${escapeHtml(title)}</p><ol class="examples">${items}</ol>`;
}

function seenAsPart(s: HtmlReportSeenAs): string {
  return `<div class="seen-as"><p><strong>${escapeHtml(s.headline)}</strong></p>${exampleRow(s.title, s.examples)}${s.nearest ? exampleRow('Nearest of all clean photos', s.nearest) : ''}<p class="muted">${escapeHtml(s.scale)}</p></div>`;
}

function clustersSection(clusters: readonly HtmlReportCluster[]): string {
  const items = clusters
    .map((c, i) => {
      const more = c.size - c.members.length;
      const members = `${c.members.map((m) => `<li><code>${escapeHtml(m.path)}</code> <span class="muted">${escapeHtml(m.folder)}</span></li>`).join('')}${more > 0 ? `<li class="muted">… and ${more} more</li>` : ''}`;
      const map = c.triggerMap ? `<figure>${img(c.triggerMap, `Trigger map of cluster ${i + 1}`, 'px')}<figcaption class="muted">trigger map${c.peak ? ` (peak row ${c.peak.y}, column ${c.peak.x})` : ''}</figcaption></figure>` : '';
      return `<li class="cluster"><div><strong>Cluster ${i + 1}: ${c.size} images</strong>, cohesion ${escapeHtml(c.cohesion.toFixed(3))} (1 = one embedding)${c.seenAs ? seenAsPart(c.seenAs) : ''}<div class="cluster-images"><figure>${img(c.target, `Decoded mean embedding of cluster ${i + 1}`, 'px')}<figcaption class="muted">${escapeHtml(c.targetCaption)}</figcaption></figure>${map}</div><ul>${members}</ul></div></li>`;
    })
    .join('');
  return `<section><h2>Clusters: what the backdoor maps to</h2><p class="muted">Flagged images grouped by embedding direction. A backdoor maps its triggered images onto nearly one embedding; the clean reference photos nearest each cluster's mean embedding show what the encoder sees in them (the kind of image the attacker made them look like), ranked by class folder where the clean photos sit in class folders. The cluster's mean embedding is also decoded with no visible pixels, and its trigger map is the cluster's mean reconstruction error minus that of clean images.</p><ol class="clusters">${items}</ol></section>`;
}

function privacySection(p: HtmlReportPrivacy): string {
  const policies =
    p.policies.length > 0
      ? p.policies.map((policy) => `<pre class="policy">${escapeHtml(policy.split(/;\s*/).join(';\n'))}</pre>`).join('')
      : `<p>${escapeHtml(p.noPolicy ?? 'None: the app ran without a Content-Security-Policy (development server).')}</p>`;
  return `<section><h2>Privacy</h2>${facts([['Network', p.network]])}<h3>Content-Security-Policy in force</h3>${policies}</section>`;
}

function shardsSection(shards: readonly HtmlReportShard[]): string {
  const open = shards.filter((s) => s.gate?.open === true).length;
  const shut = shards.filter((s) => s.gate?.open === false).length;
  const rows = shards
    .map((s) => `<tr><td class="num">${s.index}</td><td class="path"><code>${escapeHtml(s.file)}</code></td><td class="num">${s.scanned}</td><td class="num">${s.flagged}</td><td>${s.gate ? `<strong>${s.gate.open ? 'open' : 'shut'}</strong> <span class="muted">${escapeHtml(describeCollapseGate(s.gate))}</span>` : '<span class="muted">no collapse score (decoder score alone)</span>'}</td><td class="num">${s.gateDependent}</td></tr>`)
    .join('');
  return `<section><h2>Shards</h2><p class="muted">The folder was scanned in ${shards.length} shards, random samples by file hash; each shard was judged as its own set, with its own collapse gate (open in ${open}, shut in ${shut}). Every image keeps its shard's verdict; the last column counts the images whose flag would change had that shard's gate gone the other way.</p><table><thead><tr><th>Shard</th><th>Part</th><th>Images</th><th>Flagged</th><th>Collapse gate</th><th>Flags that depend on the gate</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

export function buildHtmlReport(input: HtmlReportInput): string {
  const r = input.report;
  const moved = r.threshold !== input.calibratedThreshold;
  const ev = input.evaluation;
  const fused = input.top.some((t) => t.collapseScore !== undefined);
  const withComponents = fused || input.top.some((t) => t.semanticZ !== undefined);
  // No heatmap at all (a CLI report): no column of dashes, and no sentence about them.
  const heatmaps = input.top.some((t) => t.heatmap !== null);
  const weights = reportComponentWeights(r.calibration);
  const component = (score: number | undefined, p: number | undefined, extra = '') =>
    score === undefined ? '<td class="num muted">—</td>' : `<td class="num">${escapeHtml(num(score))}${p !== undefined ? `<br><span class="muted">p ${escapeHtml(num(p, 3))}</span>` : ''}${extra}</td>`;
  const rows = input.top
    .map(
      (t, i) => `<tr><td class="num">${i + 1}</td><td>${t.original !== null ? img(t.original, `Original of ${t.path}`, 'px') : `<span class="muted">${IMAGE_NOT_AVAILABLE}</span>`}</td>${heatmaps ? `<td>${t.heatmap ? img(t.heatmap, `Reconstruction error heatmap of ${t.path}`, 'px') : '<span class="muted">—</span>'}</td>` : ''}<td class="path"><code>${escapeHtml(t.path)}</code><br><span class="muted">${escapeHtml(t.folder)}</span></td><td class="num">${escapeHtml(num(t.score))}</td><td class="num">${escapeHtml(num(t.dedeScore))}</td><td class="num">${escapeHtml(num(t.pValue, 3))}</td>${withComponents ? component(t.decoderScore, t.decoderPValue, componentsText(t, weights)) : ''}${fused ? component(t.collapseScore, t.collapsePValue) : ''}</tr>`,
    )
    .join('');
  const verdict = r.settings['verdict'] as { kind?: string; targetFpr?: number; k?: number; referenceImages?: number; weights?: { dede: number; collapse: number } | null; gate?: CollapseGate | null } | undefined;
  const shares = verdict?.weights ? ` (decoder ${escapeHtml((verdict.weights.dede * 100).toFixed(0))}% of it, collapse ${escapeHtml((verdict.weights.collapse * 100).toFixed(0))}%)` : '';
  const verdictNote =
    verdict?.kind === 'fused'
      ? `<p class="muted">One verdict per image: the decoder's reconstruction score and the set-level collapse score (mean similarity to the ${escapeHtml(verdict.k ?? 5)} nearest scanned images, against ${escapeHtml(verdict.referenceImages ?? '?')} clean reference images), each a calibrated p-value, combined by weighted Bonferroni at a ${escapeHtml(((verdict.targetFpr ?? 0) * 100).toFixed(1))}% target false-positive rate${shares}.${verdict.gate ? ` ${escapeHtml(describeCollapseGate(verdict.gate))}` : ''} Score = −log10 of the combined p-value.</p>`
      : '';
  const sections = [
    `<header><h1>DeDe scan report</h1><p class="muted">${escapeHtml(r.createdAt)} · ${escapeHtml(r.tool.name)} ${escapeHtml(r.tool.version)} · report format ${escapeHtml(r.format)} v${r.version} (HTML v${HTML_REPORT_VERSION})</p></header>`,
    `<section><h2>Summary</h2><div class="metrics"><div><strong>${r.summary.scanned}</strong><span class="muted">images scanned</span></div><div><strong class="flag">${r.summary.flagged}</strong><span class="muted">flagged (score &gt; τ)</span></div><div><strong>${escapeHtml(num(r.threshold))}</strong><span class="muted">threshold τ${moved ? ` (moved in review; calibrated τ = ${escapeHtml(num(input.calibratedThreshold))})` : ' (calibrated)'}</span></div><div><strong>${r.summary.unreadable}</strong><span class="muted">unreadable</span></div></div>`,
    `<table><thead><tr><th>Folder</th><th>Role</th><th>Images</th><th>Flagged</th></tr></thead><tbody>${input.folders.map((f) => `<tr><td>${escapeHtml(f.name)}</td><td>${escapeHtml(f.role)}</td><td class="num">${f.count}</td><td class="num">${f.flagged}</td></tr>`).join('')}</tbody></table></section>`,
    `<section><h2>Score distribution</h2>${verdictNote}${input.histogramSvg}</section>`,
    input.shards && input.shards.length > 0 ? shardsSection(input.shards) : '',
    ev
      ? `<section><h2>Detection quality</h2><p class="muted">${escapeHtml(ev.definition)}</p><div class="metrics"><div><strong>${escapeHtml(ev.auroc.toFixed(3))}</strong><span class="muted">AUROC</span></div><div><strong>${pct(ev.tpr)}</strong><span class="muted">TPR at τ</span></div><div><strong>${pct(ev.fpr)}</strong><span class="muted">FPR at τ</span></div></div>${facts([['Positives', ev.positives], ['Negatives', ev.negatives], ['True positives', ev.tp], ['False positives', ev.fp], ['True negatives', ev.tn], ['False negatives', ev.fn]])}${ev.rocSvg}</section>`
      : '',
    `<section><h2>Top flagged images</h2><p class="muted">${input.top.length} of ${input.flaggedTotal} flagged images, highest score first.${heatmaps ? ` Heatmaps show the per-pixel reconstruction error (${escapeHtml(input.colormap)} colour map: dark = low, yellow = high) over the image.` : ''}</p>${componentsNote(input.top, weights)}${input.top.length > 0 ? `<table><thead><tr><th>#</th><th>Image</th>${heatmaps ? '<th>Error</th>' : ''}<th>Path</th><th>Score</th><th>DeDe score</th><th>p-value</th>${withComponents ? '<th>Decoder score</th>' : ''}${fused ? '<th>Collapse score</th>' : ''}</tr></thead><tbody>${rows}</tbody></table>` : '<p>No image is flagged.</p>'}</section>`,
    input.triggerMap ? `<section><h2>Trigger map</h2><p class="muted">${escapeHtml(input.triggerMap.note)}</p>${img(input.triggerMap.image, 'Mean error of flagged minus unflagged images', 'px')}</section>` : '',
    input.clusters.length > 0 ? clustersSection(input.clusters) : '',
    input.tagged.length > 0
      ? `<section><h2>Reviewer tags</h2><table><thead><tr><th>Path</th><th>Folder</th><th>Tag</th><th>Score</th><th>Flagged</th></tr></thead><tbody>${input.tagged.map((t) => `<tr><td class="path"><code>${escapeHtml(t.path)}</code></td><td>${escapeHtml(t.folder)}</td><td>${escapeHtml(t.tag)}</td><td class="num">${escapeHtml(num(t.score))}</td><td>${t.flagged ? '<span class="flag">yes</span>' : 'no'}</td></tr>`).join('')}</tbody></table></section>`
      : '',
    `<section><h2>Models</h2><h3>Encoder</h3>${facts([['Name', r.encoder.name], ['SHA-256', r.encoder.sha256], ...(r.encoder.readout ? [['Embedding', describeReadoutRecord(r.encoder.readout)] as const] : []), ...Object.entries(input.encoderFacts)])}<h3>Decoder</h3>${facts([['Name', r.decoder.name], ['SHA-256', r.decoder.sha256], ...(r.decoder.training ? [['Training', trainingRecordText(r.decoder.training)] as const] : []), ...Object.entries(input.decoderFacts)])}</section>`,
    `<section><h2>Settings</h2>${facts(Object.entries(r.settings))}<h3>Calibration</h3>${facts(Object.entries(r.calibration))}</section>`,
    privacySection(input.privacy),
    r.unreadable.length > 0 ? `<section><h2>Unreadable files</h2><ul>${r.unreadable.map((u) => `<li><code>${escapeHtml(u.path)}</code>: ${escapeHtml(u.reason)}</li>`).join('')}</ul></section>` : '',
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DeDe scan report · ${escapeHtml(r.createdAt)}</title>
<style>${STYLE}</style>
</head>
<body>
${sections.filter((s) => s !== '').join('\n')}
</body>
</html>
`;
}
