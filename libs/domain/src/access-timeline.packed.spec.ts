import {
  applyDeviceEvent,
  cloneTimeline,
  judge,
  restoreTimeline,
  timelineEntries,
  userAccessAt,
} from './access-timeline';
import { foldDeviceEvents } from './device.decider';
import type { DeviceEvent } from './events';

const T = (second: number): number => Date.UTC(2024, 1, 16, 9, 0, second);
const iso = (second: number): string => new Date(T(second)).toISOString();
const ev = (type: DeviceEvent['type'], second: number, extra: Record<string, unknown> = {}): DeviceEvent =>
  ({
    type,
    data: { deviceId: 'cam', actor: 'a', occurredAt: iso(second), recordedAt: iso(second), ...extra },
  }) as DeviceEvent;

describe('a packed device timeline', () => {
  // Past 32 users a timeline looks its users up through an index beside the list: same answers either way.
  const viewers = Array.from({ length: 50 }, (_, i) => `viewer-${String(i).padStart(2, '0')}`);
  const history = [
    ev('DeviceRegistered', 0, { ownerId: 'owner' }),
    ...viewers.map((userId, i) => ev('AccessGranted', 1 + i, { userId })),
    ...viewers.filter((_, i) => i % 2 === 0).map((userId) => ev('AccessRevoked', 60, { userId })),
  ];

  it('answers for every one of many users, before and after its user index exists', () => {
    const timeline = foldDeviceEvents(history)!;
    viewers.forEach((userId, i) => {
      expect(judge(timeline, userId, T(1 + i))).toEqual({ allowed: true, role: 'viewer' });
      expect(judge(timeline, userId, T(61))).toEqual(
        i % 2 === 0 ? { allowed: false, reason: 'revoked' } : { allowed: true, role: 'viewer' },
      );
    });
    expect(judge(timeline, 'stranger', T(61))).toEqual({ allowed: false, reason: 'never_granted' });
    expect(judge(timeline, 'owner', T(61))).toEqual({ allowed: true, role: 'owner' });
    expect(timeline.access.size).toBe(51);
  });

  it('copies independently: a clone changed leaves its source as it was', () => {
    const timeline = foldDeviceEvents(history)!;
    const before = JSON.stringify(timelineEntries(timeline));
    const copy = cloneTimeline(timeline);
    applyDeviceEvent(copy, ev('AccessGranted', 70, { userId: 'newcomer' }));
    expect(judge(copy, 'newcomer', T(71))).toEqual({ allowed: true, role: 'viewer' });
    expect(judge(timeline, 'newcomer', T(71))).toEqual({ allowed: false, reason: 'never_granted' });
    expect(JSON.stringify(timelineEntries(timeline))).toBe(before);
  });

  it('restores from its canonical form to the same answers', () => {
    const timeline = foldDeviceEvents(history)!;
    const restored = restoreTimeline({
      deviceId: timeline.deviceId,
      registeredAt: timeline.registeredAt,
      decommissionedAt: timeline.decommissionedAt,
      lastChangeAt: timeline.lastChangeAt,
      owner: timeline.owner,
      access: timelineEntries(timeline),
    });
    expect(restored.owner).toBe('owner');
    expect(timelineEntries(restored)).toEqual(timelineEntries(timeline));
    for (const userId of [...viewers, 'owner', 'stranger'])
      expect(userAccessAt(restored, userId, T(61))).toEqual(userAccessAt(timeline, userId, T(61)));
  });
});
