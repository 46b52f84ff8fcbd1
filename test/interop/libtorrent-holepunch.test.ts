// BEP 55 interop: libtorrent 2.0.8 is the relay between two silmaril nodes behind two real NATs (the scenario of
// test/integration/utp-nat.test.ts, utp-nat-scenario.ts). A learns B from libtorrent's PEX (flags: uTP, holepunch),
// sends libtorrent a rendezvous, libtorrent sends `connect` to both (bt_peer_connection::on_holepunch), both dial
// over uTP, and A downloads the model from B byte-identical. libtorrent downloads at 1 KiB/s with 64 KiB pieces, so
// every byte A gets comes from B. Needs root, `ip`, `nft` and python3-libtorrent: skipped without them outside CI,
// failed under CI=true.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { haveLibtorrent, killAll } from '../integration/engine-helpers.js';
import { destroyNatNet, natMissing, runHolepunchScenarioRetrying } from '../integration/utp-nat-scenario.js';

const missing = natMissing() ?? (haveLibtorrent() ? undefined : 'python3-libtorrent is not installed');
const skip = missing && process.env.CI !== 'true' ? missing : false;
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-ltnat-'));
});

after(async () => {
  killAll();
  destroyNatNet();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test(
  'two NATs: libtorrent relays the BEP 55 rendezvous, silmaril A downloads from silmaril B over uTP',
  { skip, timeout: 480_000 },
  async (t) => {
    if (missing) assert.fail(`CI=true and the two-NAT test cannot run: ${missing}`);
    await runHolepunchScenarioRetrying(t, { tmp, relay: 'libtorrent', direct: false }, () => {
      killAll();
      destroyNatNet();
    });
  },
);
