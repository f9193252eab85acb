import * as fs from 'node:fs';
import { once } from 'node:events';
import { readAllPages, type EventStore } from '@ledger/event-store';

/**
 * Writes the whole log as NDJSON the way an analyst would export it for DuckDB: one event a line, its data
 * fields flattened beside `position`, `eventId`, `stream` and `type`. Returns the number of lines.
 */
export async function exportLogNdjson(store: EventStore, file: string): Promise<number> {
  const out = fs.createWriteStream(file);
  let lines = 0;
  try {
    for await (const page of readAllPages(store, { pageSize: 10_000 })) {
      const chunk: string[] = [];
      for (const event of page) {
        chunk.push(
          JSON.stringify({
            position: Number(event.position.commit),
            eventId: event.eventId,
            stream: event.stream,
            type: event.type,
            ...event.data,
          }),
        );
      }
      lines += chunk.length;
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return lines;
}
