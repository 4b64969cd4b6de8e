// dede merge: how the shards' collapse gates are summed up when they agree and when they do not.
import { describe, expect, it } from 'vitest';
import { gateAgreement } from './commands/merge';

describe('merge: the shards’ collapse gates', () => {
  const shard = (open: boolean | null, gateDependent: number) => ({ verdict: { kind: 'verdict' as const, scanned: 10, flagged: 1, unreadable: 0, verdict: { gate: open === null ? null : { k: 3, level: 0.15, floorHits: 0, needed: 2, open } } }, gateDependent });

  it('reports agreement, or the gate-dependent flags of the shards whose gate went the minority way', () => {
    expect(gateAgreement([shard(true, 5), shard(true, 3)])).toEqual({ open: 2, shut: 0, agree: true, minority: null, minorityShards: 0, flagsDependingOnGate: 0 });
    expect(gateAgreement([shard(null, 0), shard(null, 0)])).toEqual({ open: 0, shut: 0, agree: true, minority: null, minorityShards: 0, flagsDependingOnGate: 0 });
    expect(gateAgreement([shard(true, 5), shard(false, 2), shard(true, 7), shard(true, 1)])).toEqual({ open: 3, shut: 1, agree: false, minority: 'shut', minorityShards: 1, flagsDependingOnGate: 2 });
    expect(gateAgreement([shard(false, 4), shard(true, 9), shard(false, 0)])).toEqual({ open: 1, shut: 2, agree: false, minority: 'open', minorityShards: 1, flagsDependingOnGate: 9 });
    // An even split has no majority: every shard's gate-dependent flags count.
    expect(gateAgreement([shard(false, 4), shard(true, 9)])).toEqual({ open: 1, shut: 1, agree: false, minority: null, minorityShards: 2, flagsDependingOnGate: 13 });
  });
});
