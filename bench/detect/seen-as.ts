// Reveal by example on the 20% folder of every (encoder, trigger): the flagged images' largest
// cluster, and the clean photos (the 800 decoder-training photos, in class folders) the encoder
// sees it as (docs/ARCHITECTURE.md §5.7.1). The attacker's reference is a fire truck: a backdoor's
// cluster should be shown as trucks; a clean encoder's triggered photos should not cluster at all.
import { clusterEmbeddings, scoreFolderSet } from '../../src/core/dede';
import { revealExamples } from '../../src/core/dede/reveal-examples';
import { f, log } from './common';
import type { Data } from './data';
import type { buildFolder } from './folders';
import type { Embedded } from './metrics';

export interface SeenAsMetrics {
  readonly flagged: number;
  /** Members of the largest cluster (0: no cluster of ≥ 3), and how many of them are triggered. */
  readonly members: number;
  readonly membersTriggered: number;
  /** The attacker's reference photo's class. */
  readonly referenceClass: string;
  readonly topLabel: string | null;
  readonly topSimilarity: number;
  readonly secondLabel: string | null;
  readonly secondSimilarity: number;
  /** Of the 5 photos shown (the top class's nearest), how many are of the reference class. */
  readonly shownOfReference: number;
  /** Of the 5 nearest clean photos of any class, how many are of the reference class. */
  readonly nearestOfReference: number;
  readonly nearestPercentile: number;
}

export function seenAsOn(first: { folder: ReturnType<typeof buildFolder>; verdict: ReturnType<typeof scoreFolderSet> }, emb: Embedded, data: Data, name: string): SeenAsMetrics {
  const { folder, verdict } = first;
  const flagged = verdict.images.flatMap((v, i) => (v.flagged ? [i] : []));
  const referenceClass = data.splits.reference_image.split('/')[0]!;
  const labels = data.train.files.map((file) => file.split('/')[0]!);
  const [top] = clusterEmbeddings(folder.embeddings, flagged, {}, verdict.images.map((v) => v.collapseScore));
  if (!top) {
    log(`  [${name}] reveal by example on the 20% folder: ${flagged.length} flagged, no cluster of ≥ 3`);
    return { flagged: flagged.length, members: 0, membersTriggered: 0, referenceClass, topLabel: null, topSimilarity: NaN, secondLabel: null, secondSimilarity: NaN, shownOfReference: 0, nearestOfReference: 0, nearestPercentile: NaN };
  }
  const ex = revealExamples(top.meanEmbedding, { data: emb.train, dim: emb.dim }, { labels });
  const [first1, second] = ex.labels;
  const ofReference = (ms: readonly { index: number }[]) => ms.filter((m) => labels[m.index] === referenceClass).length;
  const m: SeenAsMetrics = {
    flagged: flagged.length,
    members: top.members.length,
    membersTriggered: Array.from(top.members).filter((i) => folder.labels[i]).length,
    referenceClass,
    topLabel: first1?.label ?? null,
    topSimilarity: first1?.similarity ?? NaN,
    secondLabel: second?.label ?? null,
    secondSimilarity: second?.similarity ?? NaN,
    shownOfReference: ofReference(first1?.nearest ?? ex.nearest),
    nearestOfReference: ofReference(ex.nearest),
    nearestPercentile: ex.nearestPercentile,
  };
  log(
    `  [${name}] reveal by example on the 20% folder: largest cluster ${m.members} (${m.membersTriggered} triggered) of ${m.flagged} flagged; seen as "${m.topLabel}" (${f(m.topSimilarity, 3)}; next "${m.secondLabel}" ${f(m.secondSimilarity, 3)}); ` +
      `shown ${m.shownOfReference}/5 ${referenceClass}, nearest of any class ${m.nearestOfReference}/5 ${referenceClass}; nearest closer than ${f(m.nearestPercentile * 100, 0)}% of clean photos' own neighbours`,
  );
  return m;
}
