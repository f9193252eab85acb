import { describe, expect, it } from '@jest/globals';
import { buildViewBatch, type ViewInput } from '@ledger/application';
import { CompiledValidationPipe } from '../http/compiled-validation';
import { VALIDATOR_OPTIONS } from '../http/validation';
import { AuthorizeMediaDto, ViewBatchDto } from '../dto/view.dto';
import { PreparedViewBatch, prepareViewBatch } from './view-batch-preparation';

const NOW = Date.parse('2026-12-07T10:00:00.000Z');
const ids = (index: number) => `01890000-0000-7000-8000-${String(index).padStart(12, '0')}`;

const view = (n: number, overrides: Record<string, unknown> = {}): ViewInput => ({
  viewerId: `user-${n}`,
  deviceId: 'cam-7',
  mediaId: `media-${n}`,
  mediaType: 'thumbnail',
  action: 'delivered',
  occurredAt: '2026-12-07T09:59:00.000Z',
  ...overrides,
});

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

describe('prepareViewBatch (the view batch worker)', () => {
  it('builds the very events the loop builds from the same views, time and ids, serialized as stored', () => {
    const views = [view(0), view(1, { servedBy: 'cdn-1', decisionToken: 'lt1.1f' }), view(2)];
    const built = prepareViewBatch(bytes(JSON.stringify({ views })), NOW, ids);
    expect(built).not.toBeNull();
    const rows = new PreparedViewBatch(built!).rows();
    const onTheLoop = buildViewBatch(views, NOW, ids);
    // The text `append` stores for an event's data is `JSON.stringify` of it (serializeJsonObject).
    expect(rows).toEqual({
      stream: onTheLoop.stream,
      events: {
        eventIds: onTheLoop.events.map((event) => event.eventId),
        types: onTheLoop.events.map((event) => event.type),
        dataJson: onTheLoop.events.map((event) => JSON.stringify(event.data)),
      },
    });
    expect(JSON.parse(rows.events.dataJson[1])).toMatchObject({
      recordedAt: '2026-12-07T10:00:00.000Z',
      servedBy: 'cdn-1',
      decisionToken: 'lt1.1f',
    });
  });

  // Each of these is answered by the loop's own parser, pipe or handler, with the contract's message: the
  // worker only says "not built".
  const refused: ReadonlyArray<[string, Uint8Array]> = [
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d])],
    ['nesting too deep', bytes(`{"views":${'['.repeat(40)}${']'.repeat(40)}}`)],
    ['not JSON', bytes('{"views": [')],
    ['a byte-order mark (the loop skips it)', bytes(`\ufeff${JSON.stringify({ views: [view(0)] })}`)],
    ['not an object', bytes(JSON.stringify([view(0)]))],
    ['a reserved key', bytes(`{"views":[${JSON.stringify(view(0)).slice(0, -1)},"constructor":1}]}`)],
    ['a duplicate key', bytes(`{"views":[${JSON.stringify(view(0)).slice(0, -1)},"mediaId":"x"}]}`)],
    ['an unknown field', bytes(JSON.stringify({ views: [view(0, { extra: 1 })] }))],
    ['no views', bytes(JSON.stringify({ views: [] }))],
    ['1001 views', bytes(JSON.stringify({ views: Array.from({ length: 1001 }, (_, n) => view(n)) }))],
    ['a bad media type', bytes(JSON.stringify({ views: [view(0), view(1, { mediaType: 'gif' })] }))],
    ['a bad time', bytes(JSON.stringify({ views: [view(0, { occurredAt: 'yesterday' })] }))],
    [
      'a time in the future',
      bytes(JSON.stringify({ views: [view(0), view(1, { occurredAt: '2026-12-07T10:06:00.000Z' })] })),
    ],
    ['a malformed token', bytes(JSON.stringify({ views: [view(0, { decisionToken: 'lt9.x' })] }))],
  ];
  it.each(refused)('does not build a batch with %s', (_what, body) => {
    expect(prepareViewBatch(body, NOW, ids)).toBeNull();
  });

  it('is handed to the route by the validation pipe as it is, for the batch DTO only', async () => {
    const pipe = new CompiledValidationPipe({ ...VALIDATOR_OPTIONS, transform: true });
    const prepared = new PreparedViewBatch(
      prepareViewBatch(bytes(JSON.stringify({ views: [view(0)] })), NOW, ids)!,
    );
    await expect(pipe.transform(prepared, { type: 'body', metatype: ViewBatchDto })).resolves.toBe(prepared);
    await expect(pipe.transform(prepared, { type: 'body', metatype: AuthorizeMediaDto })).rejects.toThrow();
  });
});
