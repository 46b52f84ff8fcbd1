// One table of module stand-ins, used by esbuild (bundles) and by the test loader (sources under tsx),
// so both run WebTorrent with the same parts switched off. Why each: ../../shared/reference/toolchain.md.
import { fileURLToPath } from 'node:url';

const stub = (name) => fileURLToPath(new URL(`./stubs/${name}`, import.meta.url));

export const aliases = {
  'webrtc-polyfill': stub('webrtc-off.cjs'),
  'node-datachannel': stub('native-missing.cjs'),
  'node-datachannel/polyfill': stub('webrtc-off.cjs'),
  bufferutil: stub('native-missing.cjs'),
  'utf-8-validate': stub('native-missing.cjs'),
  'fs-native-extensions': stub('native-missing.cjs'),
  // Our TypeScript uTP (src/engine/utp), installed into this slot by the engine.
  'utp-native': fileURLToPath(new URL('../src/engine/utp/slot.cjs', import.meta.url)),
};
