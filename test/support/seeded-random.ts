import { seededRandom as mulberry32 } from '../../apps/ledger-cli/src/simulate/random';

/**
 * A small seeded PRNG (mulberry32, the simulator's) for end-to-end tests that generate traffic: a failing run names its seed,
 * and `LEDGER_TEST_SEED=<n>` replays it.
 */
export interface SeededRandom {
  readonly seed: number;
  /** [0, 1) */
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
}

export function seededRandom(seed = defaultSeed()): SeededRandom {
  const { next, chance } = mulberry32(seed);
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance,
  };
}

function defaultSeed(): number {
  const fromEnv = process.env.LEDGER_TEST_SEED;
  if (fromEnv && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  return Math.floor(Math.random() * 2 ** 31);
}
