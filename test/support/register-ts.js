// Lets child processes in tests run the TypeScript sources directly (`node -r ./test/support/register-ts.js
// apps/ledger-api/src/main.ts`), with the same swc settings and path aliases as jest, so crash tests do not
// depend on a prior build.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
const swcOptions = require('./swc-options');

const root = path.resolve(__dirname, '..', '..');
const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolve(request, parent, ...rest) {
  const match = /^@ledger\/([a-z-]+)(\/testing)?$/.exec(request);
  if (match) {
    request = path.join(root, 'libs', match[1], 'src', match[2] ? 'testing' : '');
  }
  return originalResolve.call(this, request, parent, ...rest);
};

require.extensions['.ts'] = function compile(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...swcOptions, filename });
  module._compile(code, filename);
};
