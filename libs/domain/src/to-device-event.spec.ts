import { describe, expect, it } from '@jest/globals';
import { DEVICE_EVENT_TYPES, isDeviceEventType, toDeviceEvent } from './events';

describe('toDeviceEvent: the one decoder from stored records to device events', () => {
  const data = {
    deviceId: 'cam-1',
    actor: 'svc:test',
    ownerId: 'alice',
    occurredAt: '2026-01-01T00:00:00.000Z',
    recordedAt: '2026-01-01T00:00:00.000Z',
  };

  it('decodes every device event type and keeps type and data as stored', () => {
    for (const type of DEVICE_EVENT_TYPES) {
      expect(isDeviceEventType(type)).toBe(true);
      expect(toDeviceEvent({ type, data })).toEqual({ type, data });
    }
  });

  it('answers null for records that are not device events', () => {
    for (const type of ['MediaViewed', 'MediaAccessDenied', 'LedgerAudit', '$metadata', 'deviceregistered']) {
      expect(isDeviceEventType(type)).toBe(false);
      expect(toDeviceEvent({ type, data })).toBeNull();
    }
  });

  it('refuses a device event type whose data does not name a device, by type', () => {
    for (const bad of [null, 'x', [], {}, { deviceId: 7 }]) {
      expect(() => toDeviceEvent({ type: 'AccessGranted', data: bad })).toThrow(/AccessGranted.*deviceId/);
    }
  });
});
