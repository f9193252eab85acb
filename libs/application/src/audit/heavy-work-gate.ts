/** Work that reads the whole log (or much of it) and must never run on the request thread unbounded. */
export type HeavyWorkKind = 'replay' | 'export' | 'rebuild';
export const HEAVY_WORK_KINDS: readonly HeavyWorkKind[] = ['replay', 'export', 'rebuild'];

/** How many of each kind may run at once; past it a request is refused, not queued. */
export type HeavyWorkLimits = Readonly<Record<HeavyWorkKind, number>>;

export const DEFAULT_HEAVY_WORK_LIMITS: HeavyWorkLimits = { replay: 1, export: 2, rebuild: 1 };

/**
 * Every slot of a kind is taken. Refusing is deliberate: a queue of whole-log replays would hold memory and
 * answer minutes later, while the caller can retry on its own schedule (HTTP 429 with Retry-After).
 */
export class HeavyWorkBusyError extends Error {
  constructor(
    readonly work: HeavyWorkKind,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `${limit} ${work}${limit === 1 ? ' is' : 's are'} already running, the most this ledger runs at once; ` +
        `retry in ${retryAfterSeconds} s`,
    );
    this.name = 'HeavyWorkBusyError';
  }
}

/** Counts running work per kind and hands out slots up to the limits. */
export class HeavyWorkGate {
  private readonly running = new Map<HeavyWorkKind, number>();

  constructor(
    private readonly limits: HeavyWorkLimits = DEFAULT_HEAVY_WORK_LIMITS,
    /** What a refused caller is told to wait, by kind (seconds). */
    private readonly retryAfterSeconds: Readonly<Record<HeavyWorkKind, number>> = {
      replay: 5,
      export: 2,
      rebuild: 5,
    },
  ) {}

  /** Takes a slot or throws `HeavyWorkBusyError`; the returned function gives the slot back (once). */
  enter(kind: HeavyWorkKind): () => void {
    const running = this.running.get(kind) ?? 0;
    const limit = this.limits[kind];
    if (running >= limit) throw new HeavyWorkBusyError(kind, limit, this.retryAfterSeconds[kind]);
    this.running.set(kind, running + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running.set(kind, (this.running.get(kind) ?? 1) - 1);
    };
  }

  inUse(kind: HeavyWorkKind): number {
    return this.running.get(kind) ?? 0;
  }
}
