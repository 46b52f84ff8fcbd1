// `node --import ./build/register.mjs`: install the stand-in hooks (see test-loader.mjs).
import { register } from 'node:module';
register('./test-loader.mjs', import.meta.url);
