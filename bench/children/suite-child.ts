import { reportResult } from '../lib/node-child';
import type { SuiteContext } from '../lib/types';
import { SUITES } from '../suites';

/** Runs one suite in a process of its own, so no suite inherits another's heap, JIT state or open files. */
async function main(): Promise<void> {
  const [name, contextJson] = process.argv.slice(2);
  const entry = SUITES[name];
  if (!entry) throw new Error(`unknown suite ${name}`);
  const context = JSON.parse(contextJson) as SuiteContext;
  const output = await entry.run(context, (message) => process.stderr.write(`  [${name}] ${message}\n`));
  reportResult(output);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
