import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnLedger, type LedgerChild } from '../../../test/support/ledger-child';
import { tempDataDir } from '../../../test/support/ledger-test-app';

const root = path.resolve(__dirname, '../../..');

/** One command of the README's walk-through and the answer the README prints for it. */
interface Step {
  readonly command: string;
  readonly answer: string | null;
}

/** The `sh` block of "A walk-through with curl", cut into commands (a curl may span lines) and answers. */
function walkthrough(readme: string): Step[] {
  const section = readme.slice(readme.indexOf('## A walk-through with curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
  const steps: Array<{ command: string; answer: string | null }> = [];
  let pending = '';
  for (const line of block.split('\n')) {
    if (pending) {
      pending += '\n' + line;
      if ((pending.match(/'/g) ?? []).length % 2 === 0) {
        steps.push({ command: pending, answer: null });
        pending = '';
      }
    } else if (line.startsWith('# →')) {
      const last = steps[steps.length - 1];
      const text = line.slice(3).trim();
      last.answer = last.answer === null ? text : `${last.answer}${text}`;
    } else if (line.startsWith('curl ') || line.startsWith('npm ')) {
      if ((line.match(/'/g) ?? []).length % 2 === 1) pending = line;
      else steps.push({ command: line, answer: null });
    }
  }
  return steps;
}

/** `"…"` is any value and a bare `…` any further fields; objects match as subsets, as `toMatchObject` does. */
function expectedJson(text: string): unknown {
  const parsed = JSON.parse(text.replace(/,\s*…(?=\s*[}\]])/g, '')) as unknown;
  const wild = (value: unknown): unknown =>
    value === '…'
      ? expect.anything()
      : Array.isArray(value)
        ? value.map(wild)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wild(v)]))
          : value;
  return wild(parsed);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('the README walk-through, run as written against the real service', () => {
  const work = tempDataDir('ledger-readme-');
  const dataDir = path.join(work, 'data');
  let child: LedgerChild;
  let key: string;

  beforeAll(async () => {
    // As after `npm start` on a fresh clone: no keys configured, so a local admin key is generated into ./data.
    child = await spawnLedger(dataDir, { LEDGER_API_KEYS: '', EVENTSTORE_CONNECTION_STRING: '' });
    key = (JSON.parse(fs.readFileSync(path.join(dataDir, 'admin-api-key.json'), 'utf8')) as { key: string })
      .key;
  });
  afterAll(async () => {
    await child?.kill('SIGKILL');
  });

  async function curl(command: string): Promise<{ status: number; text: string }> {
    const url = /'?localhost:3000(\/[^\s']*)'?/.exec(command)![1];
    const body = /-d '([\s\S]*)'/.exec(command)?.[1];
    const response = await fetch(`${child.baseUrl}${url}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        ...(command.includes('"${H[@]}"') ? { 'content-type': 'application/json' } : {}),
      },
      body,
    });
    const text = await response.text();
    const output = /> (\S+)\s*$/.exec(command)?.[1];
    if (output) fs.writeFileSync(path.join(work, output), text);
    return { status: response.status, text };
  }

  it('prints every answer the README says it prints', async () => {
    const steps = walkthrough(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
    expect(steps.length).toBeGreaterThanOrEqual(13);
    expect(steps.filter((s) => s.answer !== null).length).toBeGreaterThanOrEqual(12);
    for (const step of steps) {
      if (step.command.startsWith('curl ')) {
        const { status, text } = await curl(step.command);
        if (step.answer === null) {
          expect({ command: step.command, ok: status === 200 || status === 201 }).toEqual({
            command: step.command,
            ok: true,
          });
          continue;
        }
        const [, printedStatus, json] = /^(?:(\d{3}) )?([\s\S]*)$/.exec(step.answer)!;
        // No status printed: curl -s shows a success's body alone (200 or 201).
        const success = status === 200 || status === 201;
        expect({
          command: step.command,
          status: printedStatus ? status : success,
          answer: JSON.parse(text) as unknown,
        }).toMatchObject({
          command: step.command,
          status: printedStatus ? Number(printedStatus) : true,
          answer: expectedJson(json),
        });
      } else {
        // `npm run ledger -- verify bob.ndjson`, in the directory the README runs it from (./data beside it).
        const args = step.command.replace(/^npm run ledger -- /, '').split(/\s+/);
        const run = spawnSync(
          process.execPath,
          [
            '-r',
            path.join(root, 'test/support/register-ts.js'),
            path.join(root, 'apps/ledger-cli/src/main.ts'),
            ...args,
          ],
          { cwd: work, encoding: 'utf8', env: { ...process.env, LEDGER_DATA_DIR: '' } },
        );
        expect({ command: step.command, status: run.status }).toEqual({ command: step.command, status: 0 });
        const pattern = step.answer!.split('…').map(escapeRegExp).join('.*');
        expect(run.stdout).toMatch(new RegExp(`^${pattern}`));
      }
    }
  });
});
