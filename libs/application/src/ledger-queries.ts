import { DeviceNotFoundError, formatTime, InvalidInputError, parseRfc3339, type Role } from '@ledger/domain';
import { MalformedTokenError, tokenToPosition } from '@ledger/event-store';
import type { LiveProjection } from '@ledger/projections';
import type { Clock } from './clock';
import type { CheckInput } from './inputs';

/** A check's answer, with the token of the projection state it was judged on. */
export type CheckAnswer = CheckResult & { token: string };

export interface CheckResult {
  readonly allowed: boolean;
  readonly role: Role | null;
}

/**
 * The read side. Every answer names the projection's token; `atLeast` makes it wait (bounded) until the
 * projection has applied that point of the log, which is what rules out the new-enemy problem.
 */
export class LedgerQueries {
  constructor(
    private readonly projection: LiveProjection,
    private readonly clock: Clock,
    private readonly options: { readonly consistencyWaitMs: number },
  ) {}

  async deviceAccess(deviceId: string, atLeast?: string) {
    await this.reach(atLeast);
    const now = this.clock.now();
    const token = this.projection.token;
    const access = this.projection.table.deviceAccess(deviceId, now);
    if (!access) throw new DeviceNotFoundError(deviceId);
    const owner = access.find((a) => a.role === 'owner');
    return {
      deviceId,
      owner: owner ? { userId: owner.userId, since: formatTime(owner.since) } : null,
      viewers: access
        .filter((a) => a.role === 'viewer')
        .map((a) => ({
          userId: a.userId,
          role: a.role,
          since: formatTime(a.since),
          expiresAt: a.expiresAt === null ? null : formatTime(a.expiresAt),
        })),
      token,
    };
  }

  async userDevices(userId: string, atLeast?: string) {
    await this.reach(atLeast);
    const now = this.clock.now();
    const token = this.projection.token;
    return {
      userId,
      devices: this.projection.table.userAccess(userId, now).map((a) => ({
        deviceId: a.deviceId,
        role: a.role,
        since: formatTime(a.since),
        expiresAt: a.expiresAt === null ? null : formatTime(a.expiresAt),
      })),
      token,
    };
  }

  /**
   * Answered at once, without a promise, when there is no `atLeast` to wait for (the hot path: a check is a
   * few microseconds, about what a promise and its microtask turns cost); otherwise once the projection has
   * reached it. Bad input throws (a rejection for callers that await it).
   */
  check(input: CheckInput): CheckAnswer | Promise<CheckAnswer> {
    const at = this.instant(input.at);
    if (input.atLeast === undefined) return this.answer(input, at);
    return this.reach(input.atLeast).then(() => this.answer(input, at));
  }

  private answer(input: CheckInput, at: number | undefined): CheckAnswer {
    const token = this.projection.token;
    const judgement = this.projection.table.check(input.userId, input.deviceId, at ?? this.clock.now());
    return judgement.allowed
      ? { allowed: true, role: judgement.role, token }
      : { allowed: false, role: null, token };
  }

  async checkBulk(
    items: ReadonlyArray<{ userId: string; deviceId: string }>,
    atLeast?: string,
    atText?: string,
  ): Promise<{ results: Array<CheckResult & { userId: string; deviceId: string }>; token: string }> {
    if (items.length > 1000) throw new InvalidInputError('items', 'must hold at most 1000 checks');
    const at = this.instant(atText);
    await this.reach(atLeast);
    const token = this.projection.token;
    const instant = at ?? this.clock.now();
    return {
      results: items.map((item) => ({
        userId: item.userId,
        deviceId: item.deviceId,
        ...this.judge(item.userId, item.deviceId, instant),
      })),
      token,
    };
  }

  projectionState(): { token: string; digest: string } {
    return { token: this.projection.token, digest: this.projection.digest() };
  }

  private judge(userId: string, deviceId: string, at: number): CheckResult {
    const judgement = this.projection.table.check(userId, deviceId, at);
    return judgement.allowed ? { allowed: true, role: judgement.role } : { allowed: false, role: null };
  }

  private instant(at: string | undefined): number | undefined {
    if (at === undefined) return undefined;
    const ms = parseRfc3339(at);
    if (ms === undefined)
      throw new InvalidInputError('at', 'must be an RFC 3339 time, e.g. 2024-02-16T09:41:07.123Z');
    return ms;
  }

  private async reach(atLeast: string | undefined): Promise<void> {
    if (atLeast === undefined) return;
    let position;
    try {
      position = tokenToPosition(atLeast);
    } catch (error) {
      if (error instanceof MalformedTokenError)
        throw new InvalidInputError('atLeast', 'is not a token issued by this ledger');
      throw error;
    }
    await this.projection.waitFor(position, this.options.consistencyWaitMs);
  }
}
