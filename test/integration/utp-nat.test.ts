// BEP 55 through two real NATs (network namespaces, utp-nat-net.ts): silmaril A and silmaril B each sit behind a
// router that masquerades and drops unsolicited inbound packets; a tracker, a relay and a third peer C are on the
// "internet" between them (utp-nat-scenario.ts). The test shows
//   (a) A cannot reach B directly (its dial to B's public address fails, nothing arrives), and
//   (b) with the relay connected to both, A learns B through the relay's PEX (flags: uTP, holepunch), asks the relay
//       to rendezvous, both dial each other over uTP at once, the NATs let the punched flow through, and A
//       downloads the model from B byte-identical.
// The relay and C run `silmaril get` limited to 1 KiB/s with 64 KiB pieces, so they never hold a piece A could take
// from them: every byte A gets comes from B, the seed. These processes use the namespaces' private addresses, not
// the machine's network. Needs root, `ip` and `nft` (apt nftables): skipped without them, failed under CI=true.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killAll } from './engine-helpers.js';
import { destroyNatNet, natMissing, runHolepunchScenarioRetrying } from './utp-nat-scenario.js';

const missing = natMissing();
const skip = missing && process.env.CI !== 'true' ? missing : false;
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-nat-'));
});

after(async () => {
  killAll();
  destroyNatNet();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test(
  'two NATs: no direct connection; hole punched through a silmaril relay, A downloads from B over uTP',
  { skip, timeout: 480_000 },
  async (t) => {
    if (missing) assert.fail(`CI=true and the two-NAT test cannot run: ${missing}`);
    await runHolepunchScenarioRetrying(t, { tmp, relay: 'silmaril', direct: true }, () => {
      killAll();
      destroyNatNet();
    });
  },
);
