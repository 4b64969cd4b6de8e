// The deploy/ manifests checked without kubectl: the fields the batch/v1 Job and v1
// PersistentVolumeClaim schemas require (and the Job controller's own rules for Indexed Jobs), and
// that the pods' commands are ones this CLI accepts, sharding the folder exactly once.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MERGE_HELP } from './commands/merge';
import { SCAN_HELP } from './commands/scan';
import { parseShard } from './shard-part';

const root = join(__dirname, '..', '..');
const manifest = (name: string) => JSON.parse(readFileSync(join(root, 'deploy', 'k8s', name), 'utf8')) as Record<string, unknown>;

type Obj = Record<string, unknown>;
const obj = (v: unknown, where: string): Obj => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: must be an object`);
  return v as Obj;
};
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The problems of a batch/v1 Job manifest, as the API server's validation would name them. */
function jobProblems(job: Obj): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  need(job['apiVersion'] === 'batch/v1', 'apiVersion: must be batch/v1');
  need(job['kind'] === 'Job', 'kind: must be Job');
  const meta = obj(job['metadata'], 'metadata');
  need(typeof meta['name'] === 'string' && DNS_SUBDOMAIN.test(meta['name']) && meta['name'].length <= 63, 'metadata.name: required, a DNS-1123 label (Job names feed pod labels)');
  const spec = obj(job['spec'], 'spec');
  const template = obj(spec['template'], 'spec.template');
  const pod = obj(template['spec'], 'spec.template.spec');
  need(pod['restartPolicy'] === 'Never' || pod['restartPolicy'] === 'OnFailure', 'spec.template.spec.restartPolicy: Never or OnFailure for a Job');
  const containers = pod['containers'];
  need(Array.isArray(containers) && containers.length > 0, 'spec.template.spec.containers: required, at least one');
  const volumes = new Set(((pod['volumes'] as Obj[] | undefined) ?? []).map((v) => v['name']));
  for (const [i, c] of ((containers as Obj[] | undefined) ?? []).entries()) {
    need(typeof c['name'] === 'string' && DNS_LABEL.test(c['name']), `containers[${i}].name: required, a DNS-1123 label`);
    need(typeof c['image'] === 'string' && c['image'] !== '', `containers[${i}].image: required for a Job's pods`);
    for (const m of (c['volumeMounts'] as Obj[] | undefined) ?? []) {
      need(typeof m['mountPath'] === 'string', `containers[${i}].volumeMounts.mountPath: required`);
      need(volumes.has(m['name']), `containers[${i}].volumeMounts: ${String(m['name'])} is not a volume of the pod`);
    }
  }
  const positive = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);
  for (const f of ['completions', 'parallelism', 'backoffLimit', 'backoffLimitPerIndex', 'maxFailedIndexes']) need(positive(spec[f]), `spec.${f}: a non-negative integer`);
  if (spec['completionMode'] !== undefined) need(spec['completionMode'] === 'Indexed' || spec['completionMode'] === 'NonIndexed', 'spec.completionMode: Indexed or NonIndexed');
  if (spec['completionMode'] === 'Indexed') need(Number.isInteger(spec['completions']) && (spec['completions'] as number) >= 1, 'spec.completions: required when completionMode is Indexed');
  if (spec['backoffLimitPerIndex'] !== undefined) {
    need(spec['completionMode'] === 'Indexed', 'spec.backoffLimitPerIndex: only for Indexed Jobs');
    need(pod['restartPolicy'] === 'Never', 'spec.backoffLimitPerIndex: needs restartPolicy Never');
  }
  if (spec['maxFailedIndexes'] !== undefined) need(spec['backoffLimitPerIndex'] !== undefined, 'spec.maxFailedIndexes: needs backoffLimitPerIndex');
  return problems;
}

/** The container's shell line with its environment substituted (as `sh -c` would, for plain $VAR). */
function shellLine(job: Obj, env: Record<string, string>): string {
  const c = (obj(obj(obj(job['spec'], 'spec')['template'], 'template')['spec'], 'pod')['containers'] as Obj[])[0]!;
  expect(c['command']).toEqual(['sh', '-c']);
  const vars: Record<string, string> = { ...Object.fromEntries(((c['env'] as { name: string; value: string }[] | undefined) ?? []).map((e) => [e.name, e.value])), ...env };
  return (c['args'] as string[])[0]!.replace(/\$([A-Z_]+)/g, (_, name: string) => vars[name] ?? `$${name}`);
}

describe('deploy/', () => {
  const scan = manifest('scan-job.json');
  const merge = manifest('merge-job.json');
  const pvc = manifest('data-pvc.json');

  it('the Jobs carry the fields the batch/v1 schema requires', () => {
    expect(jobProblems(scan)).toEqual([]);
    expect(jobProblems(merge)).toEqual([]);
    // The checker can fail: a Job with what kubectl would refuse.
    const broken = JSON.parse(JSON.stringify(scan)) as { spec: Obj & { template: { spec: Obj & { containers: Obj[] } } } };
    delete broken.spec['completions'];
    broken.spec.template.spec['restartPolicy'] = 'Always';
    broken.spec.template.spec.containers[0]!['name'] = 'Scan_1';
    expect(jobProblems(broken as unknown as Obj)).toEqual([
      'spec.template.spec.restartPolicy: Never or OnFailure for a Job',
      'containers[0].name: required, a DNS-1123 label',
      'spec.completions: required when completionMode is Indexed',
      'spec.backoffLimitPerIndex: needs restartPolicy Never',
    ]);
  });

  it('the volume claim is complete and is the one both Jobs mount', () => {
    expect(pvc).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'dede-data' }, spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: expect.stringMatching(/^\d+[GT]i$/) } } } });
    for (const job of [scan, merge]) {
      const volumes = (obj(obj(obj(job['spec'], 'spec')['template'], 'template')['spec'], 'pod')['volumes'] as { persistentVolumeClaim?: { claimName: string } }[]);
      expect(volumes.map((v) => v.persistentVolumeClaim?.claimName)).toEqual(['dede-data']);
    }
  });

  it('each index scans its own shard, every shard once, into the parts the merge reads', () => {
    const spec = obj(scan['spec'], 'spec');
    const n = spec['completions'] as number;
    expect(spec['completionMode']).toBe('Indexed');
    const shards = new Set<number>();
    for (let i = 0; i < n; i++) {
      const line = shellLine(scan, { JOB_COMPLETION_INDEX: String(i) });
      const shard = parseShard(/--shard "([^"]+)"/.exec(line)![1]!);
      expect(shard.count).toBe(n);
      shards.add(shard.index);
      expect(line).toContain(`--out "/data/parts/part-${i}.jsonl"`);
    }
    expect(shards.size).toBe(n);
    // Every flag is one the commands document.
    const flags = (line: string) => [...line.matchAll(/ (--[a-z-]+)/g)].map((m) => m[1]!);
    for (const f of flags(shellLine(scan, { JOB_COMPLETION_INDEX: '0' }))) expect(SCAN_HELP).toContain(`${f} `);
    const mergeLine = shellLine(merge, {});
    for (const f of flags(mergeLine)) expect(MERGE_HELP).toContain(`${f} `);
    expect(mergeLine).toContain('dede merge /data/parts/part-*.jsonl --out /data/report.json');
    const image = (job: Obj) => (obj(obj(obj(job['spec'], 'spec')['template'], 'template')['spec'], 'pod')['containers'] as Obj[])[0]!['image'];
    expect(image(merge)).toBe(image(scan));
  });

  it('the container image is Node LTS slim and copies what exists', () => {
    const dockerfile = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
    const from = /^FROM node:(\d+)-[a-z]*-?slim$/m.exec(dockerfile);
    expect(from).not.toBeNull();
    expect(Number(from![1]) % 2).toBe(0); // even majors are LTS
    const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    expect(Number(from![1])).toBeGreaterThanOrEqual(Number(/\d+/.exec(engines)![0]));
    const copies = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    expect(copies.length).toBeGreaterThan(3);
    for (const path of copies) expect(existsSync(join(root, path)), path).toBe(true);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["dede"\]$/m);
  });
});
