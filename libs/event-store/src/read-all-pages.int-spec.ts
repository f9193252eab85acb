import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAllPages } from './read-all-pages';
import { SqliteEventStore } from './sqlite';

describe('readAllPages', () => {
  it('pages forwards after `from`, up to `upTo` inclusive, through the filter', async () => {
    const store = SqliteEventStore.open({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-pages-')) });
    try {
      const event = (type: string, n: number) => ({ eventId: randomUUID(), type, data: { n } });
      const written = await store.append({
        stream: 's',
        expectedRevision: 'no_stream',
        events: Array.from({ length: 25 }, (_unused, n) => event(n % 2 ? 'Odd' : 'Even', n)),
      });
      await store.append({ stream: 's', expectedRevision: 'any', events: [event('Even', 99)] });
      const collect = async (options: Parameters<typeof readAllPages>[1]) => {
        const pages: number[][] = [];
        for await (const page of readAllPages(store, options))
          pages.push(page.map((e) => e.data.n as number));
        return pages;
      };
      const upTo = written.positions[20];
      expect((await collect({ upTo, pageSize: 8 })).map((p) => p.length)).toEqual([8, 8, 5]);
      expect(
        (await collect({ from: written.positions[9], upTo, filter: { eventTypes: ['Odd'] } })).flat(),
      ).toEqual([11, 13, 15, 17, 19]);
      expect((await collect({})).flat()).toHaveLength(26);
      expect(await collect({ from: upTo, upTo })).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
