import { InvalidInputError } from '@ledger/domain';
import { importEventId } from './import-event-id';
import { parseImportLine } from './import-line';

const NOW = Date.UTC(2024, 1, 16, 12, 0, 0);
const line = (fields: Record<string, unknown>): string => JSON.stringify(fields);
const view = {
  op: 'view',
  viewerId: 'bob',
  deviceId: 'cam-1',
  mediaId: 'm-1',
  mediaType: 'thumbnail',
  action: 'opened',
  occurredAt: '2024-02-16T09:41:07.123Z',
};
const grant = { op: 'grant', deviceId: 'cam-1', userId: 'bob', actor: 'alice' };

describe('parseImportLine', () => {
  it('reads each op with its HTTP body fields, times as epoch ms', () => {
    expect(
      parseImportLine(
        line({ op: 'register', deviceId: 'cam-1', ownerId: 'alice', actor: 'svc:provisioning', model: 'v3' }),
        NOW,
      ),
    ).toEqual({
      op: 'register',
      deviceId: 'cam-1',
      ownerId: 'alice',
      actor: 'svc:provisioning',
      model: 'v3',
    });
    expect(
      parseImportLine(line({ ...grant, expiresAt: '2024-02-17T00:00:00+01:00', reason: 'family' }), NOW),
    ).toEqual({
      op: 'grant',
      deviceId: 'cam-1',
      userId: 'bob',
      actor: 'alice',
      reason: 'family',
      expiresAt: Date.UTC(2024, 1, 16, 23),
    });
    expect(
      parseImportLine(
        line({ op: 'transfer', deviceId: 'cam-1', newOwnerId: 'carol', actor: 'support:x' }),
        NOW,
      ),
    ).toMatchObject({
      keepViewers: false,
    });
    expect(parseImportLine(line({ op: 'decommission', deviceId: 'cam-1', actor: 'alice' }), NOW)).toEqual({
      op: 'decommission',
      deviceId: 'cam-1',
      actor: 'alice',
    });
    expect(parseImportLine(line({ ...view, servedBy: 'cdn-eu', decisionToken: 'lt1.2s' }), NOW)).toEqual({
      ...view,
      occurredAt: Date.UTC(2024, 1, 16, 9, 41, 7, 123),
      servedBy: 'cdn-eu',
      decisionToken: 'lt1.2s',
    });
  });

  const rejected: Array<[string, string, string]> = [
    ['not JSON', '{"op": "view",', 'JSON is malformed'],
    ['an array', '[1]', 'JSON must be an object'],
    ['no op', line({ deviceId: 'cam-1' }), 'op is required'],
    [
      'an unknown op',
      line({ ...grant, op: 'share' }),
      'op must be one of register, grant, revoke, transfer, decommission, view',
    ],
    ['an unknown field', line({ ...grant, color: 'red' }), 'color is not allowed for op grant'],
    ['a view field on a grant', line({ ...grant, mediaId: 'm' }), 'mediaId is not allowed for op grant'],
    ['a missing id', line({ ...grant, userId: undefined }), 'userId is required'],
    ['a bad id', line({ ...grant, deviceId: 'cam/1' }), 'deviceId must be 1-128 characters'],
    ['an id too long', line({ ...grant, userId: 'u'.repeat(129) }), 'userId must be 1-128 characters'],
    ['a number id', line({ ...grant, userId: 42 }), 'userId must be 1-128 characters'],
    [
      'an unknown media type',
      line({ ...view, mediaType: 'photo' }),
      'mediaType must be one of thumbnail, event_video, live_stream',
    ],
    [
      'an unknown action',
      line({ ...view, action: 'liked' }),
      'action must be one of delivered, opened, played',
    ],
    ['a view without time', line({ ...view, occurredAt: undefined }), 'occurredAt is required'],
    [
      'a non-RFC 3339 time',
      line({ ...view, occurredAt: '16/02/2024 09:41' }),
      'occurredAt must be an RFC 3339 time',
    ],
    [
      'a time more than 5 minutes ahead',
      line({ ...view, occurredAt: '2024-02-16T12:05:00.001Z' }),
      'occurredAt is more than 5 minutes in the future',
    ],
    ['a bad expiry', line({ ...grant, expiresAt: 'tomorrow' }), 'expiresAt must be an RFC 3339 time'],
    [
      'a string boolean',
      line({ op: 'transfer', deviceId: 'c', newOwnerId: 'n', actor: 'a', keepViewers: 'yes' }),
      'keepViewers must be true or false',
    ],
    [
      'a control character in a reason',
      line({ ...grant, reason: 'a\u0007b' }),
      'reason must not contain control characters',
    ],
    ['an empty reason', line({ ...grant, reason: '' }), 'reason must be 1-1024 characters'],
    // The same rules as the HTTP bodies (contract-edges.e2e-spec.ts): null is not a string, times stay in 0000–9999.
    ['a null reason', line({ ...grant, reason: null }), 'reason must be a string'],
    [
      'a null model',
      line({ op: 'register', deviceId: 'c', ownerId: 'o', actor: 'a', model: null }),
      'model must be a string',
    ],
    ['a null servedBy', line({ ...view, servedBy: null }), 'servedBy must be 1-128 characters'],
    [
      'a servedBy that is not an id',
      line({ ...view, servedBy: 'cdn eu' }),
      'servedBy must be 1-128 characters',
    ],
    [
      'a time whose UTC instant is before year 0000',
      line({ ...view, occurredAt: '0000-01-01T00:30:00+01:00' }),
      'occurredAt must be an RFC 3339 time',
    ],
    [
      'a duplicate key',
      '{"op":"grant","deviceId":"c","userId":"u","userId":"v","actor":"a"}',
      'userId appears more than once',
    ],
    [
      'a __proto__ key',
      '{"op":"grant","__proto__":{},"deviceId":"c","userId":"u","actor":"a"}',
      '__proto__ is not allowed',
    ],
    ['a malformed token', line({ ...view, decisionToken: 'zookie' }), 'decisionToken is not a valid token'],
  ];

  it.each(rejected)('rejects %s', (_case, text, message) => {
    let error: unknown;
    try {
      parseImportLine(text, NOW);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message.startsWith(message)).toBe(true);
  });

  it('accepts a time up to 5 minutes ahead', () => {
    expect(parseImportLine(line({ ...view, occurredAt: '2024-02-16T12:05:00.000Z' }), NOW)).toMatchObject({
      op: 'view',
    });
  });
});

describe('importEventId', () => {
  it('is a version-5 UUID that depends only on the import id and the line number', () => {
    const id = importEventId('sha256:abc', 7);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(importEventId('sha256:abc', 7)).toBe(id);
    expect(importEventId('sha256:abc', 8)).not.toBe(id);
    expect(importEventId('sha256:abd', 7)).not.toBe(id);
  });
});
