import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  fingerprint,
  historySteps,
  PROBE_USERS,
  probeTimes,
  randomInstants,
  runHistory,
  T0,
  type RunHistory,
  type Step,
} from '../../../test/support/device-history';
import { accessAt, judge, ownerAt, userAccessAt, type ActiveAccess } from './access-timeline';
import { evolve, foldDeviceEvents, initialState, type DeviceState } from './device.decider';
import type { DeviceEvent } from './events';

/**
 * Contract §2 checked against a reference model written from the contract text alone
 * (test/support/access-rule-reference.ts), on random command histories run through the real decider.
 */

const DEVICE = 'cam-7f3a';
const history = (steps: Step[]): RunHistory => runHistory(DEVICE, steps);
const RUNS = 200;

const plain = (access: ActiveAccess | null) =>
  access && { userId: access.userId, role: access.role, since: access.since, expiresAt: access.expiresAt };

/** expect() is slow in tight loops: compare first, and let expect() print the diff only on a mismatch. */
function same(label: unknown[], actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect([...label, actual]).toEqual([...label, expected]);
}

const step = (partial: Partial<Step> & Pick<Step, 'kind'>): Step =>
  ({ dt: 0, skewed: false, ...partial }) as Step;

/** Hand-picked histories every run starts with: the edges the contract names, at equal instants. */
const EXAMPLES: Step[][] = [
  [
    step({ kind: 'register', ownerId: 'alice' }),
    step({ kind: 'grant', userId: 'bob', dt: 10, expiresIn: 30 }),
    // Re-grant shortens, then lengthens, then removes the expiry: one unbroken interval.
    step({ kind: 'grant', userId: 'bob', dt: 10, expiresIn: 10 }),
    step({ kind: 'grant', userId: 'bob', dt: 0, expiresIn: 50 }),
    step({ kind: 'grant', userId: 'bob', dt: 10 }),
    // Transfer to a current viewer, keeping viewers; then away from them at the same instant.
    step({ kind: 'transfer', newOwnerId: 'bob', keepViewers: true, dt: 10 }),
    step({ kind: 'transfer', newOwnerId: 'carol', keepViewers: true }),
    step({ kind: 'decommission', dt: 10 }),
    step({ kind: 'grant', userId: 'dave', dt: 10 }),
  ],
  [
    step({ kind: 'register', ownerId: 'alice' }),
    step({ kind: 'grant', userId: 'bob', dt: 10, expiresIn: 20 }),
    // Expires exactly when the next change lands: the re-grant starts a new interval at that instant.
    step({ kind: 'grant', userId: 'bob', dt: 20, expiresIn: 10 }),
    // Grant and revoke at one instant: an empty interval, ended by the revoke.
    step({ kind: 'grant', userId: 'carol' }),
    step({ kind: 'revoke', userId: 'carol' }),
    step({ kind: 'revoke', userId: 'carol' }),
    step({ kind: 'transfer', newOwnerId: 'bob', keepViewers: false, dt: 5 }),
    step({ kind: 'grant', userId: 'alice', dt: 5, expiresIn: 10 }),
    step({ kind: 'grant', userId: 'bob', dt: 0 }),
    step({ kind: 'revoke', userId: 'alice', dt: 10 }),
    step({ kind: 'grant', userId: 'erin', dt: -1 }),
  ],
  [
    step({ kind: 'register', ownerId: 'alice' }),
    step({ kind: 'grant', userId: 'bob', dt: 10, expiresIn: 20 }),
    // Two intervals end at one instant (an expiry, then a re-grant revoked at once): the later one ended last.
    step({ kind: 'grant', userId: 'bob', dt: 20 }),
    step({ kind: 'revoke', userId: 'bob' }),
    step({ kind: 'grant', userId: 'carol', dt: 10, expiresIn: 10 }),
    step({ kind: 'transfer', newOwnerId: 'dave', keepViewers: true, dt: 10 }),
  ],
];

describe('§2 access rule (property: the ledger agrees with a reference model of the contract)', () => {
  it('refuses exactly the commands the contract refuses, and a refused command changes nothing', () => {
    fc.assert(
      fc.property(historySteps(), (steps) => {
        const run = history(steps);
        for (const outcome of run.outcomes) {
          same([outcome.step, 'refused with'], outcome.actual, outcome.expected);
          same([outcome.step, 'refusal mutated the state'], outcome.refusalMutated, false);
          same([outcome.step, 'events'], outcome.events.length, outcome.actual === null ? 1 : 0);
        }
        // Accepted changes are dated in order.
        const dates = run.events.map((e) => Date.parse(e.data.occurredAt));
        expect(dates).toEqual([...dates].sort((a, b) => a - b));
      }),
      { numRuns: RUNS, examples: EXAMPLES.map((e) => [e]) },
    );
  });

  it('judge() gives the reference verdict and reason for every user at every edge, ±1 ms and random instants', () => {
    fc.assert(
      fc.property(historySteps(), randomInstants, (steps, extra) => {
        const run = history(steps);
        for (const t of probeTimes(run, extra)) {
          for (const userId of PROBE_USERS) {
            same([userId, t - T0], { ...judge(run.state, userId, t) }, run.reference.judge(userId, t));
          }
        }
      }),
      { numRuns: RUNS, examples: EXAMPLES.map((e): [Step[], number[]] => [e, []]) },
    );
  });

  it('lists the same owner and viewers (since, expiresAt) as the reference at every probed instant', () => {
    fc.assert(
      fc.property(historySteps(), randomInstants, (steps, extra) => {
        const run = history(steps);
        if (!run.state) return;
        for (const t of probeTimes(run, extra)) {
          same([t - T0], accessAt(run.state, t).map(plain), run.reference.accessAt(t));
          const owner = run.reference.accessAt(t).find((a) => a.role === 'owner');
          same(['owner', t - T0], ownerAt(run.state, t), owner?.userId ?? null);
          for (const userId of PROBE_USERS) {
            same(
              [userId, t - T0],
              plain(userAccessAt(run.state, userId, t)),
              run.reference.userAccessAt(userId, t),
            );
          }
        }
      }),
      { numRuns: RUNS, examples: EXAMPLES.map((e): [Step[], number[]] => [e, []]) },
    );
  });

  it('judges an instant by the changes dated at or before it: later-dated changes never rewrite the past', () => {
    fc.assert(
      fc.property(historySteps(), randomInstants, (steps, extra) => {
        const run = history(steps);
        for (const t of probeTimes(run, extra)) {
          const known = foldDeviceEvents(run.events.filter((e) => Date.parse(e.data.occurredAt) <= t));
          for (const userId of PROBE_USERS) {
            same([t - T0, userId], judge(known, userId, t), judge(run.state, userId, t));
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('evolve is pure: it never touches the state it is given, and folds to what applyDeviceEvent folds to', () => {
    fc.assert(
      fc.property(historySteps(), (steps) => {
        const run = history(steps);
        const states: DeviceState[] = [initialState()];
        const prints: string[] = [fingerprint(initialState())];
        for (const event of run.events) {
          const next = evolve(states[states.length - 1], event);
          states.push(next);
          prints.push(fingerprint(next));
        }
        // Every intermediate state is still exactly what it was when evolve returned it.
        expect(states.map(fingerprint)).toEqual(prints);
        expect(prints[prints.length - 1]).toBe(fingerprint(run.state));
        // Evolving the same state with the same event twice gives equal states.
        run.events.forEach((event: DeviceEvent, i) => {
          expect(fingerprint(evolve(states[i], event))).toBe(prints[i + 1]);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('the generator reaches the edges the contract names (so the properties above are not vacuous)', () => {
    const seen = new Map<string, number>();
    const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
    for (const steps of fc.sample(historySteps(), { numRuns: 400, seed: 20240216 })) {
      const run = history(steps);
      let previousAt: number | null = null;
      for (const outcome of run.outcomes) {
        if (outcome.actual !== null) {
          count(`refused:${outcome.actual}`);
          continue;
        }
        const data = outcome.command.data;
        if (previousAt === data.occurredAt) count('equal timestamps');
        previousAt = data.occurredAt;
        const before = outcome.stateBefore;
        if (outcome.command.type === 'GrantAccess' && before) {
          const current = userAccessAt(before, outcome.command.data.userId, data.occurredAt);
          const expiry = outcome.command.data.expiresAt ?? null;
          if (current && current.expiresAt !== expiry) count('re-grant changing the expiry');
          const ended = judge(before, outcome.command.data.userId, data.occurredAt);
          if (!ended.allowed && ended.reason === 'expired') count('grant after an expiry');
        }
        if (outcome.command.type === 'TransferOwnership' && before) {
          const target = userAccessAt(before, outcome.command.data.newOwnerId, data.occurredAt);
          if (target?.role === 'viewer') {
            count(`transfer to a current viewer, keepViewers=${outcome.command.data.keepViewers}`);
          }
          count(`transfer keepViewers=${outcome.command.data.keepViewers}`);
        }
        if (outcome.command.type === 'DecommissionDevice') count('decommission');
      }
      for (const t of probeTimes(run)) {
        const reasons = PROBE_USERS.map((u) => run.reference.judge(u, t));
        for (const r of reasons) if (!r.allowed) count(`reason at an edge:${r.reason}`);
      }
    }
    const required = [
      'equal timestamps',
      're-grant changing the expiry',
      'grant after an expiry',
      'transfer to a current viewer, keepViewers=true',
      'transfer to a current viewer, keepViewers=false',
      'transfer keepViewers=true',
      'transfer keepViewers=false',
      'decommission',
      'refused:InvalidInputError',
      'refused:DeviceAlreadyRegisteredError',
      'refused:DeviceNotFoundError',
      'refused:DeviceDecommissionedError',
      'refused:OutOfOrderChangeError',
      'refused:OwnerAccessChangeError',
      'refused:NoActiveAccessError',
      'refused:AlreadyOwnerError',
      'reason at an edge:unknown_device',
      'reason at an edge:decommissioned',
      'reason at an edge:revoked',
      'reason at an edge:expired',
      'reason at an edge:transferred',
      'reason at an edge:never_granted',
    ];
    expect(required.filter((what) => (seen.get(what) ?? 0) < 5)).toEqual([]);
  });
});
