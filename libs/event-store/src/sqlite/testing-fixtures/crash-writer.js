'use strict';
// Child process of the crash test: appends to the store as fast as it can, many appends in flight at once so
// that group commits are always under way, and reports each append on stdout — `begin` before it is issued,
// `ack` once its promise resolved — until the parent kills it with SIGKILL.
//
// It runs the TypeScript adapter without a build step by compiling `.ts` files on require with @swc/core.

const fs = require('node:fs');
const { randomUUID } = require('node:crypto');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};

const { SqliteEventStore } = require('../sqlite-event-store.ts');

const dataDir = process.argv[2];
const writers = Number(process.argv[3] || 64);
const streams = Number(process.argv[4] || 24);

// Never outlive a parent that died without killing us.
setTimeout(() => process.exit(5), 300_000);
process.stdout.on('error', () => process.exit(6));

// `thread`: group commits on the writer thread, as the service runs them.
const store = SqliteEventStore.open({ dataDir, writerThread: process.argv[5] === 'thread' });
let sequence = 0;

async function writer(id) {
  for (;;) {
    const size = 1 + (sequence++ % 5);
    const events = Array.from({ length: size }, (_, i) => ({
      eventId: randomUUID(),
      type: 'crash-tested',
      data: { writer: id, i, padding: 'x'.repeat(64 + ((sequence * 37) % 400)) },
    }));
    const ids = events.map((event) => event.eventId).join(',');
    process.stdout.write(`begin ${ids}\n`);
    await store.append({ stream: `crash-${id % streams}`, events, expectedRevision: 'any' });
    process.stdout.write(`ack ${ids}\n`);
  }
}

process.stdout.write('ready\n');
for (let id = 0; id < writers; id++) {
  writer(id).catch((error) => {
    process.stderr.write(`writer ${id} failed: ${error && error.stack}\n`);
    process.exit(3);
  });
}
