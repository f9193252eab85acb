/** The API key every benchmark server is started with. */
export const BENCH_API_KEY = 'bench-admin-key-5be07c1d9a3f4e28';

export const BENCH_API_KEYS = JSON.stringify([
  {
    name: 'bench',
    key: BENCH_API_KEY,
    scopes: ['ledger:write', 'ledger:read', 'audit:replay', 'audit:export'],
  },
]);
