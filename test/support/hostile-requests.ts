import { tokenToPosition } from '@ledger/event-store';
import type { RawRequest } from './raw-http';
import type { SeededRandom } from './seeded-random';

/**
 * A generator of hostile requests for the API fuzz test. Every request it makes is refused by construction —
 * it carries at least one defect the contract says must be refused (a bad field, a missing or unknown key, a
 * key without the scope, a bad Idempotency-Key, a wrong method or path, bytes that are not JSON) — so the
 * ledger must answer with an error and append nothing. On top of the defect it piles on noise that is legal
 * on its own (odd but valid headers, control characters in free text, unicode).
 */

export interface FuzzKeys {
  readonly admin: string;
  /** A key with `ledger:read` only. */
  readonly reader: string;
}

export interface HostileRequest extends RawRequest {
  /** What makes it invalid, for failure messages. */
  readonly defect: string;
}

type Kind =
  'id' | 'optionalId' | 'time' | 'futureTime' | 'text' | 'enum' | 'bool' | 'token' | 'array' | 'items';
type Body = Record<string, unknown>;

interface Route {
  readonly method: 'POST';
  readonly path: (device: string) => string;
  readonly scope: 'write' | 'read' | 'audit';
  readonly body: (r: SeededRandom) => Body;
  /** Field kinds, to pick a wrong value that the contract refuses. */
  readonly fields: Record<string, Kind>;
  readonly required: readonly string[];
}

const now = () => new Date().toISOString();
const view = (r: SeededRandom): Body => ({
  viewerId: `v-${r.int(0, 99)}`,
  deviceId: `cam-${r.int(0, 99)}`,
  mediaId: `m-${r.int(0, 999)}`,
  mediaType: r.pick(['thumbnail', 'event_video', 'live_stream']),
  action: r.pick(['delivered', 'opened', 'played']),
  occurredAt: now(),
});

const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: () => '/v1/devices',
    scope: 'write',
    body: (r) => ({ deviceId: `cam-${r.int(0, 1e6)}`, ownerId: 'alice', actor: 'svc:fuzz', model: 'v3' }),
    fields: { deviceId: 'id', ownerId: 'id', actor: 'id', occurredAt: 'futureTime', model: 'text' },
    required: ['deviceId', 'ownerId', 'actor'],
  },
  {
    method: 'POST',
    path: (d) => `/v1/devices/${d}/grants`,
    scope: 'write',
    body: () => ({
      userId: 'bob',
      actor: 'alice',
      reason: 'household',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    }),
    fields: { userId: 'id', actor: 'id', reason: 'text', expiresAt: 'time', occurredAt: 'futureTime' },
    required: ['userId', 'actor'],
  },
  {
    method: 'POST',
    path: (d) => `/v1/devices/${d}/revocations`,
    scope: 'write',
    body: () => ({ userId: 'bob', actor: 'alice' }),
    fields: { userId: 'id', actor: 'id', reason: 'text', occurredAt: 'futureTime' },
    required: ['userId', 'actor'],
  },
  {
    method: 'POST',
    path: (d) => `/v1/devices/${d}/transfers`,
    scope: 'write',
    body: () => ({ newOwnerId: 'carol', actor: 'support:alice', keepViewers: true }),
    fields: { newOwnerId: 'id', actor: 'id', keepViewers: 'bool', occurredAt: 'futureTime' },
    required: ['newOwnerId', 'actor'],
  },
  {
    method: 'POST',
    path: (d) => `/v1/devices/${d}/decommission`,
    scope: 'write',
    body: () => ({ actor: 'alice', reason: 'sold' }),
    fields: { actor: 'id', reason: 'text', occurredAt: 'futureTime' },
    required: ['actor'],
  },
  {
    method: 'POST',
    path: () => '/v1/views',
    scope: 'write',
    body: view,
    fields: {
      viewerId: 'id',
      deviceId: 'id',
      mediaId: 'id',
      mediaType: 'enum',
      action: 'enum',
      occurredAt: 'futureTime',
      servedBy: 'optionalId',
      decisionToken: 'token',
    },
    required: ['viewerId', 'deviceId', 'mediaId', 'mediaType', 'action', 'occurredAt'],
  },
  {
    method: 'POST',
    path: () => '/v1/views/batch',
    scope: 'write',
    body: (r) => ({ views: Array.from({ length: r.int(1, 4) }, () => view(r)) }),
    fields: { views: 'array' },
    required: ['views'],
  },
  {
    method: 'POST',
    path: () => '/v1/media/authorize',
    scope: 'write',
    body: (r) => {
      const { occurredAt: _omitted, ...rest } = view(r);
      return { ...rest, servedBy: 'media-svc-3' };
    },
    fields: {
      viewerId: 'id',
      deviceId: 'id',
      mediaId: 'id',
      mediaType: 'enum',
      action: 'enum',
      servedBy: 'optionalId',
    },
    required: ['viewerId', 'deviceId', 'mediaId', 'mediaType', 'action'],
  },
  {
    method: 'POST',
    path: () => '/v1/check',
    scope: 'read',
    body: () => ({ userId: 'bob', deviceId: 'cam-1', at: now() }),
    fields: { userId: 'id', deviceId: 'id', atLeast: 'token', at: 'time' },
    required: ['userId', 'deviceId'],
  },
  {
    method: 'POST',
    path: () => '/v1/check/bulk',
    scope: 'read',
    body: () => ({ items: [{ userId: 'bob', deviceId: 'cam-1' }] }),
    fields: { items: 'items', atLeast: 'token', at: 'time' },
    required: ['items'],
  },
  {
    method: 'POST',
    path: () => '/v1/audit/replay',
    scope: 'audit',
    body: () => ({ from: '2024-02-16T00:00:00.000Z', deviceIds: ['cam-1'] }),
    fields: { from: 'time', to: 'time', deviceIds: 'items', viewerIds: 'items' },
    required: [],
  },
];

const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  '$where',
  '',
  ' ',
  '\u0000',
  'a'.repeat(5000),
  'ünïcödé',
  '\ud83d\ude00',
];

/** Values a field of that kind must refuse. */
function wrongValue(kind: Kind, r: SeededRandom): unknown {
  const notAString = [7, -0, 1e308, -1e308, 2 ** 53 + 1, true, false, [], {}, [1, 'a'], { $gt: '' }];
  switch (kind) {
    case 'id':
      return r.pick([
        ...notAString,
        null,
        '',
        '-leading-dash',
        '.dot',
        'has space',
        'x'.repeat(129),
        'x'.repeat(r.int(1000, 200_000)),
        'a\u0000b',
        'ünïcödé',
        '\ud800',
        'a\u202eb',
        'a/b',
        '../../etc/passwd',
        '%00',
        'a\nb',
        '__proto__',
        '<script>',
      ]);
    case 'optionalId':
      return r.pick([...notAString, '', '-x', 'x'.repeat(129), 'a b', '\u0000']);
    case 'time':
    case 'futureTime':
      return r.pick([
        ...notAString,
        ...(kind === 'futureTime'
          ? [new Date(Date.now() + 6 * 60_000).toISOString(), '9999-12-31T23:59:59.999Z']
          : []),
        '',
        'now',
        '2024-02-30T00:00:00.000Z',
        '2024-02-16T24:00:00.000Z',
        '2024-02-16T09:41:60.000Z',
        '2024-02-16',
        '16/02/2024',
        '1e400',
        '+275760-09-13T00:00:00.000Z',
        '2024-02-16T09:41:07.123Z'.repeat(3),
        '2024-02-16T09:41:07.123Zjunk',
      ]);
    case 'text':
      return r.pick([7, true, [], {}, 'x'.repeat(r.int(1025, 50_000))]);
    case 'enum':
      return r.pick([...notAString, null, '', 'THUMBNAIL', 'thumbnail ', 'stared', 'toString', '__proto__']);
    case 'bool':
      return r.pick(['true', 'false', 1, 0, 'yes', [], {}]);
    case 'token':
      return r.pick([
        7,
        true,
        [],
        {},
        '',
        'lt1.',
        'lt2.1',
        'LT1.1',
        'lt1.-1',
        'lt1.s.1',
        'lt1.' + 'z'.repeat(27),
        'lt1.1.',
        'lt1.1.2.3',
        'lt1.%',
      ]);
    case 'array':
      return r.pick([[], 'views', 7, {}, null, [null], [7], [[]], Array.from({ length: 1001 }, () => ({}))]);
    case 'items':
      return r.pick([
        'items',
        7,
        {},
        [null],
        [7],
        [{ userId: '-x', deviceId: 'd' }],
        Array.from({ length: 10_001 }, () => 'x'),
      ]);
  }
}

function nest(depth: number, leaf: string, array: boolean): string {
  return array
    ? '['.repeat(depth) + leaf + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

const INVALID_UTF8 = [
  Buffer.from([0xff]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
];

/** Legal noise in free text: control characters (escaped), bidi overrides, emoji, a lone surrogate. */
function noisyText(r: SeededRandom): string {
  return r.pick([
    '\u0000\u0001\u001b[31mred',
    'line\r\nbreak',
    '\u202eevil',
    '😀'.repeat(10),
    'é',
    '\ufeffbom',
    'tab\there',
  ]);
}

/** A body with at least one defect; returns the bytes and a description of the defect. */
function hostileBody(route: Route, r: SeededRandom): { body: Buffer; defect: string } {
  const body = route.body(r);
  if (route.fields.reason === 'text' && r.chance(0.3)) body.reason = noisyText(r);
  const fieldNames = Object.keys(route.fields);
  const choice = r.int(0, 11);
  switch (choice) {
    case 0:
    case 1:
    case 2: {
      const field = r.pick(fieldNames);
      body[field] = wrongValue(route.fields[field], r);
      return {
        body: Buffer.from(JSON.stringify(body)),
        defect: `wrong ${field}: ${JSON.stringify(body[field])?.slice(0, 60)}`,
      };
    }
    case 3: {
      if (route.required.length === 0) {
        body[r.pick(['deviceIds', 'viewerIds'])] = 'not-an-array';
        return { body: Buffer.from(JSON.stringify(body)), defect: 'id list not an array' };
      }
      const field = r.pick(route.required);
      delete body[field];
      return { body: Buffer.from(JSON.stringify(body)), defect: `missing ${field}` };
    }
    case 4: {
      const key = r.pick(HOSTILE_KEYS);
      const value = r.pick<unknown>([
        1,
        'x',
        null,
        { prototype: { polluted: true } },
        { polluted: true },
        [],
      ]);
      // Built by hand: a JS object cannot carry an own `__proto__` key through JSON.stringify.
      const text = JSON.stringify(body).replace(/^\{/, `{${JSON.stringify(key)}:${JSON.stringify(value)},`);
      return { body: Buffer.from(text), defect: `unknown key ${JSON.stringify(key).slice(0, 30)}` };
    }
    case 5: {
      const depth = r.pick([33, 100, 1000, 10_000, 50_000]);
      const array = r.chance(0.5);
      const field = r.pick(fieldNames);
      const text = r.chance(0.5)
        ? nest(depth, '1', array)
        : JSON.stringify({ ...body, [field]: null }).replace(
            `"${field}":null`,
            `"${field}":${nest(depth, '"x"', array)}`,
          );
      return { body: Buffer.from(text), defect: `nesting ${depth} deep` };
    }
    case 6: {
      // Invalid UTF-8 inside a string value (or the id that would otherwise be valid).
      const text = JSON.stringify(body);
      const quote = text.indexOf('"', text.indexOf(':') + 1);
      const bytes = r.pick(INVALID_UTF8);
      return {
        body: Buffer.concat([
          Buffer.from(text.slice(0, quote + 1)),
          bytes,
          Buffer.from(text.slice(quote + 1)),
        ]),
        defect: `invalid UTF-8 ${bytes.toString('hex')}`,
      };
    }
    case 7: {
      // A raw control character inside a string: not JSON.
      const text = JSON.stringify(body);
      const quote = text.indexOf('"', text.indexOf(':') + 1);
      const control = String.fromCharCode(r.int(0, 31));
      return {
        body: Buffer.from(text.slice(0, quote + 1) + control + text.slice(quote + 1)),
        defect: `raw control ${control.charCodeAt(0)}`,
      };
    }
    case 8: {
      const text = JSON.stringify(body);
      return { body: Buffer.from(text.slice(0, r.int(0, text.length - 1))), defect: 'truncated JSON' };
    }
    case 9: {
      const bytes = Buffer.alloc(r.int(1, 300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(0, 255);
      // A random byte string can, rarely, be JSON: make sure it is not an object.
      bytes[0] = 0x7d;
      return { body: bytes, defect: 'random bytes' };
    }
    case 10: {
      const text = r.pick([
        '[]',
        '[{}]',
        '"x"',
        '1',
        'true',
        'null',
        '-0',
        '1e999',
        '""',
        '[' + JSON.stringify(body) + ']',
      ]);
      return { body: Buffer.from(text), defect: `non-object body ${text.slice(0, 20)}` };
    }
    default: {
      // Oversize (413) or merely big with a defect inside.
      if (r.chance(0.15)) {
        return {
          body: Buffer.from(JSON.stringify({ ...body, pad: 'x'.repeat(2 * 1024 * 1024) })),
          defect: 'over 2 MiB',
        };
      }
      return {
        body: Buffer.from(
          JSON.stringify({ ...body, [`pad${r.int(0, 9)}`]: 'x'.repeat(r.int(10_000, 500_000)) }),
        ),
        defect: 'big, unknown key',
      };
    }
  }
}

function auth(key: string): [string, string] {
  return ['Authorization', `Bearer ${key}`];
}

/** An Authorization header (or none) that must be refused with 401. */
function badAuth(keys: FuzzKeys, r: SeededRandom): Array<[string, string]> {
  return r.pick<Array<[string, string]>>([
    [],
    [['Authorization', '']],
    [['Authorization', 'Bearer']],
    [['Authorization', 'Bearer ']],
    [['Authorization', `Basic ${Buffer.from(`admin:${keys.admin}`).toString('base64')}`]],
    [['Authorization', keys.admin]],
    [['Authorization', `Token ${keys.admin}`]],
    [['Authorization', `Bearer ${keys.admin}x`]],
    [['Authorization', `Bearer ${keys.admin.slice(0, -1)}`]],
    [['Authorization', `Bearer ${keys.admin.toUpperCase()}`]],
    [['Authorization', `Bearer ${keys.admin} ${keys.admin}`]],
    [['Authorization', `Bearer ${'k'.repeat(r.int(513, 10_000))}`]],
    [['Authorization', 'Bearer \u00ff\u00fe\u00e9']],
    [['Authorization', `Bearer\t${keys.admin}x`]],
    [['X-Api-Key', keys.admin]],
  ]);
}

/** An Idempotency-Key the contract refuses (≤ 128 printable characters). */
function badIdempotencyKey(r: SeededRandom): Array<[string, string]> {
  return r.pick<Array<[string, string]>>([
    [['Idempotency-Key', '']],
    [['Idempotency-Key', 'k'.repeat(129)]],
    [['Idempotency-Key', 'k'.repeat(r.int(1000, 6000))]],
    [['Idempotency-Key', 'has space']],
    [['Idempotency-Key', '\u00e9t\u00e9']],
    [
      ['Idempotency-Key', 'first'],
      ['Idempotency-Key', 'second'],
    ],
  ]);
}

/** Odd but legal headers: they must change nothing about how the request is judged. */
function noiseHeaders(r: SeededRandom): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  if (r.chance(0.2)) headers.push(['X-Request-Id', r.pick(['../../x', 'a'.repeat(500), '\u00ff', 'req-1'])]);
  if (r.chance(0.1)) headers.push(['X-Forwarded-For', '127.0.0.1, ::1, garbage']);
  if (r.chance(0.1)) headers.push(['Accept', r.pick(['text/html', '*/*', 'application/xml', ''])]);
  if (r.chance(0.1)) headers.push(['Cookie', 'session=' + 'c'.repeat(r.int(1, 2000))]);
  if (r.chance(0.1)) headers.push(['Last-Event-ID', 'lt1.zzzz']);
  return headers;
}

function token(r: SeededRandom): string {
  const junk = r.pick([
    '',
    'lt1.',
    'lt1.s.1',
    'garbage',
    '%ff%fe',
    '%',
    '%%',
    'lt1.' + 'z'.repeat(30),
    'lt1.-1',
    '1',
    '__proto__',
    'lt1.1%00',
    'x'.repeat(r.int(100, 4000)),
    '\u00e9',
  ]);
  return junk;
}

function deviceSegment(r: SeededRandom): string {
  return r.pick([
    'cam-1',
    'cam-1',
    '-bad',
    '%00',
    '%ff',
    '%2e%2e',
    '..',
    'a%20b',
    '%E2%80%AE',
    'x'.repeat(129),
    'x'.repeat(300),
    '%25',
    encodeURIComponent('ünï'),
  ]);
}

const SEGMENTS = [
  'v1',
  'devices',
  'users',
  'grants',
  'revocations',
  'transfers',
  'decommission',
  'access',
  'views',
  'batch',
  'check',
  'bulk',
  'media',
  'authorize',
  'projection',
  'audit',
  'replay',
  'trail',
  'health',
  'cam-1',
  'alice',
  '..',
  '.',
  '%2e',
  '%00',
  '',
  'ünï',
  'x'.repeat(300),
];
const METHODS = [
  'GET',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'HEAD',
  'TRACE',
  'PROPFIND',
  'BREW',
  'get',
  'M-SEARCH',
  'CONNECT',
];

/** Makes one request that the ledger must refuse (or, for reads, answer) without appending anything. */
export function hostileRequest(keys: FuzzKeys, r: SeededRandom, headOf: () => bigint): HostileRequest {
  const roll = r.int(0, 99);
  if (roll < 45) {
    // A real write/read route, admin key, a defective body.
    const route = r.pick(ROUTES);
    const { body, defect } = hostileBody(route, r);
    const headers: Array<[string, string]> = [
      auth(r.chance(0.1) ? `${keys.admin}  ` : keys.admin),
      ['Content-Type', 'application/json'],
    ];
    if (r.chance(0.2))
      headers.push(['Idempotency-Key', r.pick(['fuzz-1', 'fuzz-' + r.int(0, 1e9), '!~"#', '__proto__'])]);
    return {
      method: 'POST',
      path: route.path(deviceSegment(r)),
      headers: [...headers, ...noiseHeaders(r)],
      body,
      defect,
    };
  }
  if (roll < 60) {
    // A valid body, but no usable key (401) or a key without the scope (403).
    const route = r.pick(ROUTES.filter((x) => x.scope !== 'read'));
    const body = Buffer.from(JSON.stringify(route.body(r)));
    const lacking = r.chance(0.4);
    const headers: Array<[string, string]> = [
      ...(lacking ? [auth(keys.reader)] : badAuth(keys, r)),
      ['Content-Type', 'application/json'],
    ];
    return {
      method: 'POST',
      path: route.path('cam-1'),
      headers: [...headers, ...noiseHeaders(r)],
      body,
      defect: lacking ? 'reader key on a write route' : 'bad Authorization',
    };
  }
  if (roll < 68) {
    // A valid body with a refused Idempotency-Key, or a content type that is not JSON.
    const route = r.pick(ROUTES.filter((x) => x.scope === 'write'));
    const body = Buffer.from(JSON.stringify(route.body(r)));
    if (r.chance(0.6)) {
      return {
        method: 'POST',
        path: route.path('cam-1'),
        headers: [auth(keys.admin), ['Content-Type', 'application/json'], ...badIdempotencyKey(r)],
        body,
        defect: 'bad Idempotency-Key',
      };
    }
    const contentType = r.pick<Array<[string, string]>>([
      [],
      [['Content-Type', 'text/plain']],
      [['Content-Type', 'application/x-www-form-urlencoded']],
      [['Content-Type', 'multipart/form-data; boundary=x']],
      [['Content-Type', 'application/xml']],
      [['Content-Type', 'application/octet-stream']],
    ]);
    return {
      method: 'POST',
      path: route.path('cam-1'),
      headers: [auth(keys.admin), ...contentType],
      body,
      defect: `content type ${contentType[0]?.[1] ?? 'missing'}`,
    };
  }
  if (roll < 82) {
    // Reads with garbage queries (a read appends nothing even when it succeeds), and exports that must fail.
    const pick = r.int(0, 3);
    const head = headOf();
    let atLeast = token(r);
    try {
      if (tokenToPosition(decodeURIComponent(atLeast)).commit > head) atLeast = 'lt1.s';
    } catch {
      // not a token, or not decodable: garbage, as intended
    }
    const extra = r.pick([
      '',
      '&atLeast=lt1.s',
      '&__proto__[x]=1',
      '&constructor=1',
      '&a[b][c]=d',
      `&${'q'.repeat(2000)}=1`,
      '&atLeast',
    ]);
    const path =
      pick === 0
        ? `/v1/devices/${deviceSegment(r)}/access?atLeast=${atLeast}${extra}`
        : pick === 1
          ? `/v1/users/${deviceSegment(r)}/devices?atLeast=${atLeast}${extra}`
          : pick === 2
            ? `/v1/projection?${r.pick(['atLeast=', 'x=1', '__proto__=1', '%ff=%fe'])}${extra}`
            : `/v1/audit/trail?${r.pick(['format=xml&deviceId=cam-1', 'deviceId=-x', 'userId=&deviceId=', 'deviceId=cam-1&from=yesterday', 'deviceId=cam-1&to=1e400', 'format=csv', 'deviceId[]=cam-1', 'deviceId=cam-1&deviceId=cam-2&format=ndjsonx'])}${extra}`;
    return {
      method: 'GET',
      path,
      headers: [auth(keys.admin), ...noiseHeaders(r)],
      defect: 'read with a garbage query',
    };
  }
  // Random paths under /v1 and random methods; any body is refused by every route that could match.
  const depth = r.int(0, 5);
  const segments = ['v1', ...Array.from({ length: depth }, () => r.pick(SEGMENTS))];
  let path = '/' + segments.join('/');
  if (r.chance(0.1)) path = path.toUpperCase();
  if (r.chance(0.1)) path = path.replace('/', '//');
  if (r.chance(0.1)) path += '/';
  if (r.chance(0.1)) path += '?' + r.pick(['a=%', '%ff', '__proto__[x]=1', 'x'.repeat(3000)]);
  const method = r.pick(METHODS);
  // POST always carries a body no route accepts (an empty replay request would be a valid one).
  const body =
    method === 'POST' || r.chance(0.5)
      ? Buffer.from(`{"unknownField${r.int(0, 9)}":${r.pick(['1', '"x"', '{}', '[]'])}}`)
      : undefined;
  const headers: Array<[string, string]> = [
    auth(r.chance(0.8) ? keys.admin : keys.reader),
    ...(body ? [['Content-Type', 'application/json'] as [string, string]] : []),
  ];
  // A valid read is fine, but a GET of the watch feed never ends: it is not among the segments.
  return { method, path, headers, body, defect: `random route ${method} ${path.slice(0, 80)}` };
}
