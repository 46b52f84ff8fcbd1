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
  // UPnP / NAT-PMP port mapping: the engine always passes natUpnp: false, natPmp: false (src/engine/engine.ts), and
  // WebTorrent skips it when the import is not a function; loading it (execa, default-gateway...) cost every process
  // ~15 ms of CPU at start.
  '@silentbot1/nat-api': stub('empty.cjs'),
  // GETs over node:http, without node-fetch and its polyfills, nor undici's WebAssembly parser (see the stub).
  'cross-fetch-ponyfill': stub('http-fetch.cjs'),
  // Our TypeScript uTP (src/engine/utp), installed into this slot by the engine.
  'utp-native': fileURLToPath(new URL('../src/engine/utp/slot.cjs', import.meta.url)),
};
