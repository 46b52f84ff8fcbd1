// `utp-native` as WebTorrent sees it (build/aliases.mjs maps the name here). utp-native itself is a native addon,
// which VS Code's extension host cannot load; our uTP is TypeScript (src/engine/utp), installed into this slot by
// the engine before it starts WebTorrent. Until then (and in a process that never installs it) calls fail loudly.
let impl = null;
module.exports = {
  install(i) {
    impl = i;
  },
  createServer(...args) {
    if (!impl) throw new Error('uTP is not installed (src/engine/utp/slot.cjs)');
    return impl.createServer(...args);
  },
  connect(...args) {
    if (!impl) throw new Error('uTP is not installed (src/engine/utp/slot.cjs)');
    return impl.connect(...args);
  },
};
