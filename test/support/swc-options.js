// One set of swc settings for every place that runs the TypeScript sources without a build: jest (both
// configs) and the child processes of the crash tests (register-ts.js). Decorator metadata is what Nest's
// dependency injection reads.
'use strict';
module.exports = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};
