// Sessions a long-lived worker keeps between jobs (docs/ARCHITECTURE.md §3.3): building an ORT
// session means reading the model's bytes (from the Cache API or by serialising a graph) and
// compiling it, which the detail view and every rescan paid again before. A kept session is found
// by its kind (the encoder, the scorer graph, …) and its identity (the model's hash and whatever
// else shapes the graph); the backend is fixed per worker, so a backend switch, which starts a
// fresh worker, starts with nothing kept. One identity per kind is kept: a new identity (another
// encoder, a retrained decoder) replaces the old, which is released once no job holds it.
import type { OrtSession } from './ort-types';
import type { ModelToLoad, Runtime, SessionKeeper, SessionLease } from './session';

interface Entry {
  readonly identity: string;
  readonly session: Promise<OrtSession>;
  users: number;
  /** Replaced or unloaded: released when its last user lets go. */
  stale: boolean;
}

export interface KeepStats {
  /** Sessions this keep has built since the worker started (a debug counter, §3.3). */
  readonly created: number;
  /** `kind:identity` of the sessions kept now. */
  readonly kept: readonly string[];
}

export class SessionKeep implements SessionKeeper {
  private readonly entries = new Map<string, Entry>();
  private created = 0;

  constructor(private readonly runtime: Pick<Runtime, 'createSession'>) {}

  async lease(kind: string, identity: string, load: () => Promise<ModelToLoad> | ModelToLoad): Promise<SessionLease> {
    let entry = this.entries.get(kind);
    if (entry?.identity !== identity) {
      if (entry) this.retire(entry);
      entry = { identity, session: this.build(load), users: 0, stale: false };
      const mine = entry;
      this.entries.set(kind, mine);
      // A failed build is not kept: the next job tries again.
      mine.session.catch(() => {
        if (this.entries.get(kind) === mine) this.entries.delete(kind);
      });
    }
    const held = entry;
    held.users++;
    let session: OrtSession;
    try {
      session = await held.session;
    } catch (err) {
      held.users--;
      throw err;
    }
    let released = false;
    return {
      session,
      release: async () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.stale && held.users === 0) await session.release();
      },
    };
  }

  /** Releases every kept session (held ones when their jobs let go): explicit unload, device loss. */
  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.retire(e)));
  }

  stats(): KeepStats {
    return { created: this.created, kept: [...this.entries].map(([kind, e]) => `${kind}:${e.identity}`) };
  }

  private async build(load: () => Promise<ModelToLoad> | ModelToLoad): Promise<OrtSession> {
    const { model, request } = await load();
    const session = await this.runtime.createSession(model, request);
    this.created++;
    // Jobs may share a kept session (a scan's scorer while the detail view explains): their runs
    // take turns, as ORT Web does not promise that one session runs concurrently.
    const run = session.run.bind(session) as (...args: unknown[]) => ReturnType<OrtSession['run']>;
    let turn: Promise<unknown> = Promise.resolve();
    session.run = ((...args: unknown[]) => {
      const mine = turn.then(() => run(...args));
      turn = mine.catch(() => undefined);
      return mine;
    }) as OrtSession['run'];
    return session;
  }

  private async retire(entry: Entry): Promise<void> {
    entry.stale = true;
    if (entry.users > 0) return;
    const session = await entry.session.catch(() => null);
    await session?.release();
  }
}
