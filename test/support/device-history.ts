import fc from 'fast-check';
import {
  applyDeviceEvent,
  cloneTimeline,
  decide,
  type DeviceCommand,
  type DeviceEvent,
  type DeviceState,
} from '@ledger/domain';
import { AccessReference, type RefCommand, type RefRefusal } from './access-rule-reference';

/**
 * Random device histories for property tests: random COMMANDS (not events) are run through the real decider,
 * so every generated history is one the ledger could have stored, and the refused commands are exercised too.
 * Times move on a 10 ms grid (so changes, expiries and probes collide exactly at interval edges) with the odd
 * 1 ms offset, and occasionally step back (a change dated before the previous one must be refused).
 */

export const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;
export const T0 = Date.UTC(2024, 1, 16, 9, 41, 7, 123);
const SIX_MINUTES = 6 * 60 * 1000;

interface StepBase {
  /** Offset from the previous step's business time; negative ones do not move the cursor. */
  readonly dt: number;
  /** Recorded more than 5 minutes before its business time: a future-dated change, refused. */
  readonly skewed: boolean;
}

export type Step =
  | (StepBase & { readonly kind: 'register'; readonly ownerId: string })
  | (StepBase & { readonly kind: 'grant'; readonly userId: string; readonly expiresIn?: number })
  | (StepBase & { readonly kind: 'revoke'; readonly userId: string })
  | (StepBase & { readonly kind: 'transfer'; readonly newOwnerId: string; readonly keepViewers: boolean })
  | (StepBase & { readonly kind: 'decommission' });

const user = fc.constantFrom(...USERS);
const dt = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.constantFrom(10, 10, 20, 30, 50) },
  { weight: 1, arbitrary: fc.constantFrom(1, 100, 1000) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -10) },
);
const skewed = fc.integer({ min: 0, max: 29 }).map((n) => n === 0);
const base = fc.record({ dt, skewed });
const expiresIn = fc.option(
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(10, 20, 30, 50, 100) },
    { weight: 1, arbitrary: fc.constantFrom(1, 11) },
    // Not later than the grant: refused.
    { weight: 1, arbitrary: fc.constantFrom(0, -10) },
  ),
  { nil: undefined, freq: 3 },
);

const registerStep = fc
  .record({ base, ownerId: user })
  .map(({ base: b, ownerId }): Step => ({ ...b, kind: 'register', ownerId }));

const changeStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({ base, userId: user, expiresIn })
      .map(({ base: b, userId, expiresIn: e }): Step => ({
        ...b,
        kind: 'grant',
        userId,
        ...(e === undefined ? {} : { expiresIn: e }),
      })),
  },
  {
    weight: 5,
    arbitrary: fc
      .record({ base, userId: user })
      .map(({ base: b, userId }): Step => ({ ...b, kind: 'revoke', userId })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ base, newOwnerId: user, keepViewers: fc.boolean() })
      .map(({ base: b, newOwnerId, keepViewers }): Step => ({
        ...b,
        kind: 'transfer',
        newOwnerId,
        keepViewers,
      })),
  },
  { weight: 1, arbitrary: base.map((b): Step => ({ ...b, kind: 'decommission' })) },
  { weight: 1, arbitrary: registerStep },
);

/** A device's steps: rarely some changes before it exists, then its registration, then changes. */
export function historySteps(maxChanges = 40): fc.Arbitrary<Step[]> {
  return fc
    .tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.constant<Step[]>([]) },
        { weight: 1, arbitrary: fc.array(changeStep, { maxLength: 2 }) },
      ),
      registerStep,
      fc.array(changeStep, { maxLength: maxChanges }),
    )
    .map(([before, register, after]) => [...before, register, ...after]);
}

export interface StepOutcome {
  readonly step: Step;
  readonly command: DeviceCommand;
  /** What the reference model says should refuse the command (null: accepted). */
  readonly expected: RefRefusal | null;
  /** The error class the decider threw, or null. */
  readonly actual: string | null;
  /** True when deciding a refused command changed the state it was given. */
  readonly refusalMutated: boolean;
  readonly events: readonly DeviceEvent[];
  /** A copy of the state the command was decided on (the fold itself mutates in place). */
  readonly stateBefore: DeviceState;
}

export interface RunHistory {
  readonly deviceId: string;
  readonly events: readonly DeviceEvent[];
  readonly state: DeviceState;
  readonly reference: AccessReference;
  readonly outcomes: readonly StepOutcome[];
  /** Business times of every step (accepted or not). */
  readonly times: readonly number[];
}

/** A stable text of a timeline (Infinity included), to detect any mutation. */
export function fingerprint(state: DeviceState): string {
  if (!state) return 'null';
  return JSON.stringify({ ...state, access: [...state.access.entries()] }, (_key, value: unknown) =>
    value === Infinity ? 'Infinity' : value,
  );
}

function refCommand(step: Step, at: number, recordedAt: number): RefCommand {
  switch (step.kind) {
    case 'register':
      return { kind: 'register', at, recordedAt, ownerId: step.ownerId };
    case 'grant':
      return {
        kind: 'grant',
        at,
        recordedAt,
        userId: step.userId,
        ...(step.expiresIn === undefined ? {} : { expiresAt: at + step.expiresIn }),
      };
    case 'revoke':
      return { kind: 'revoke', at, recordedAt, userId: step.userId };
    case 'transfer':
      return { kind: 'transfer', at, recordedAt, newOwnerId: step.newOwnerId, keepViewers: step.keepViewers };
    case 'decommission':
      return { kind: 'decommission', at, recordedAt };
  }
}

function deviceCommand(deviceId: string, command: RefCommand): DeviceCommand {
  const data = { deviceId, actor: 'svc:test', occurredAt: command.at, recordedAt: command.recordedAt };
  switch (command.kind) {
    case 'register':
      return { type: 'RegisterDevice', data: { ...data, ownerId: command.ownerId } };
    case 'grant':
      return {
        type: 'GrantAccess',
        data: {
          ...data,
          userId: command.userId,
          ...(command.expiresAt === undefined ? {} : { expiresAt: command.expiresAt }),
        },
      };
    case 'revoke':
      return { type: 'RevokeAccess', data: { ...data, userId: command.userId, reason: 'moved out' } };
    case 'transfer':
      return {
        type: 'TransferOwnership',
        data: { ...data, newOwnerId: command.newOwnerId, keepViewers: command.keepViewers },
      };
    case 'decommission':
      return { type: 'DecommissionDevice', data };
  }
}

/**
 * Runs the steps through `decide` + `applyDeviceEvent` (the ledger) and the reference model side by side.
 * The reference applies its own reading of each command it accepts, never the ledger's events.
 */
export function runHistory(deviceId: string, steps: readonly Step[], t0 = T0): RunHistory {
  let cursor = t0;
  let state: DeviceState = null;
  const events: DeviceEvent[] = [];
  const reference = new AccessReference();
  const outcomes: StepOutcome[] = [];
  const times: number[] = [];
  for (const step of steps) {
    const at = cursor + step.dt;
    if (step.dt >= 0) cursor = at;
    times.push(at);
    const ref = refCommand(step, at, step.skewed ? at - SIX_MINUTES : at);
    const command = deviceCommand(deviceId, ref);
    const expected = reference.refusal(ref);
    const before = fingerprint(state);
    const stateBefore = state && cloneTimeline(state);
    let produced: DeviceEvent[] = [];
    let actual: string | null = null;
    try {
      produced = decide(command, state);
    } catch (error) {
      actual = error instanceof Error ? error.constructor.name : `non-error ${String(error)}`;
    }
    const refusalMutated = actual !== null && fingerprint(state) !== before;
    for (const event of produced) {
      state = applyDeviceEvent(state, event);
      events.push(event);
    }
    if (expected === null) reference.apply(ref);
    outcomes.push({ step, command, expected, actual, refusalMutated, events: produced, stateBefore });
  }
  return { deviceId, events, state, reference, outcomes, times };
}

/** Instants worth probing: every step time and interval edge, one ms either side, and the given extras. */
export function probeTimes(history: RunHistory, extra: readonly number[] = []): number[] {
  const times = new Set<number>([T0 - 1, ...extra]);
  for (const t of [...history.times, ...history.reference.edges()]) {
    times.add(t - 1);
    times.add(t);
    times.add(t + 1);
  }
  return [...times].sort((a, b) => a - b);
}

/** Random extra instants around a history: inside its span and a little past it. */
export const randomInstants = fc.array(fc.integer({ min: T0 - 50, max: T0 + 3000 }), { maxLength: 12 });

export const PROBE_USERS: readonly string[] = [...USERS, 'mallory'];
