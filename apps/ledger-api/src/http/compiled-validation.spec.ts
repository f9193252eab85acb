import fc from 'fast-check';
import { ArgumentMetadata } from '@nestjs/common';
import { BulkCheckDto, CheckDto } from '../dto/check.dto';
import { GrantAccessDto, RegisterDeviceDto, TransferOwnershipDto } from '../dto/device.dto';
import { AuthorizeMediaDto, ViewBatchDto, ViewDto } from '../dto/view.dto';
import { compileDtoCheck, CompiledValidationPipe } from './compiled-validation';
import { validateAs, VALIDATOR_OPTIONS } from './validation';

const view = {
  viewerId: 'user-bob',
  deviceId: 'cam-7f3a',
  mediaId: 'evt-1',
  mediaType: 'thumbnail',
  action: 'delivered',
  occurredAt: '2024-02-16T09:41:07.123Z',
};

/** Values near the rules' edges, so both answers occur often. */
const field = fc.oneof(
  fc.constantFrom('user-bob', 'cam-1', '-bad', '', 'a'.repeat(129), 'thumbnail', 'played', 'event_video'),
  fc.constantFrom(
    '2024-02-16T09:41:07.123Z',
    '2024-02-30T00:00:00.000Z',
    'yesterday',
    'lt1.2s',
    'lt1.',
    'lt9.x',
  ),
  fc.constantFrom(null, undefined, 0, 1.5, true, [], {}, ['a']),
  fc.string({ maxLength: 6 }),
);
const mutatedView = fc
  .record({
    key: fc.constantFrom(...Object.keys(view), 'servedBy', 'decisionToken', 'extra'),
    value: field,
    drop: fc.boolean(),
  })
  .map(({ key, value, drop }) => {
    const copy: Record<string, unknown> = { ...view };
    if (drop) delete copy[key];
    else copy[key] = value;
    return copy;
  });

describe('compiled DTO checks', () => {
  it('compile every body DTO of the hot routes', () => {
    for (const type of [
      ViewBatchDto,
      ViewDto,
      CheckDto,
      BulkCheckDto,
      AuthorizeMediaDto,
      RegisterDeviceDto,
    ]) {
      expect({ type: type.name, compiled: compileDtoCheck(type) !== null }).toEqual({
        type: type.name,
        compiled: true,
      });
    }
  });

  it.each([
    ['ViewDto', ViewDto],
    ['AuthorizeMediaDto', AuthorizeMediaDto],
    ['CheckDto', CheckDto],
    ['GrantAccessDto', GrantAccessDto],
    ['TransferOwnershipDto', TransferOwnershipDto],
  ] as const)(
    'never call valid what class-validator refuses, and accept what it accepts (%s)',
    (_name, type) => {
      const check = compileDtoCheck(type)!;
      const record = fc.dictionary(
        fc.constantFrom(
          ...Object.keys(view),
          'userId',
          'atLeast',
          'at',
          'servedBy',
          'decisionToken',
          'actor',
          'reason',
          'expiresAt',
          'keepViewers',
          'newOwnerId',
          'occurredAt',
          'x',
        ),
        fc.oneof(field, fc.constant(true), fc.constant(false)),
      );
      fc.assert(
        fc.property(fc.oneof(record, mutatedView), (value) => {
          const slow = validateAs(type as new () => object, value);
          expect(check(value)).toBe('value' in slow);
        }),
        { numRuns: 3000 },
      );
    },
  );

  it('agrees with class-validator on batches, nested errors included', () => {
    const check = compileDtoCheck(ViewBatchDto)!;
    const batch = fc.oneof(
      fc
        .array(fc.oneof(fc.constant(view), mutatedView), { minLength: 0, maxLength: 5 })
        .map((views) => ({ views })),
      fc.record({ views: field }),
      fc.record({ views: fc.constant([view]), other: field }),
    );
    fc.assert(
      fc.property(batch, (value) => {
        expect(check(value)).toBe('value' in validateAs(ViewBatchDto, value));
      }),
      { numRuns: 3000 },
    );
    expect(check({ views: Array.from({ length: 1000 }, () => view) })).toBe(true);
    expect(check({ views: Array.from({ length: 1001 }, () => view) })).toBe(false);
    // Stricter than class-transformer, which drops a key named after an Object.prototype member: such a body
    // takes the slow path (and the body parser refuses it before either).
    expect(check({ views: [{ ...view, constructor: 'x' }] })).toBe(false);
  });

  it('the pipe hands valid bodies through and leaves refusals (and their messages) to the ValidationPipe', async () => {
    const pipe = new CompiledValidationPipe({ ...VALIDATOR_OPTIONS, transform: true });
    const metadata: ArgumentMetadata = { type: 'body', metatype: ViewBatchDto };
    const valid = { views: [view] };
    expect(await pipe.transform(valid, metadata)).toBe(valid);
    await expect(pipe.transform({ views: [{ ...view, occurredAt: 'soon' }] }, metadata)).rejects.toThrow();
  });
});
