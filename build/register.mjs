// `node --import ./build/register.mjs`: install the stand-in hooks (see test-loader.mjs).
import Module, { register } from 'node:module';
import { aliases } from './aliases.mjs';

register('./test-loader.mjs', import.meta.url);

// CommonJS `require` does not go through those ESM hooks in Node 20 (webtorrent's lib/utp.cjs requires
// utp-native that way): map the same names for it, so sources under test run with the very parts the bundles do.
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return aliases[request] ?? resolveFilename.call(this, request, ...rest);
};
