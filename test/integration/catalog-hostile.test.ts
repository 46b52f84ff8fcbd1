// Issue 13, the catalog cases, on a private loopback DHT (bittorrent-dht nodes on 127.0.0.1, no bootstrap):
// 6. an attacker freezes the old shared index at seq 2^53+4096, floods equal-seq items there, floods the rendezvous
//    with dead addresses and joins with 250 keys that all claim `acme/tiny`: a newcomer still finds the honest one;
// 8. those same-name claims are flagged, trusted means a key the user chose, descriptions come out plain;
// 9. a publisher that shares before its DHT has any node becomes reachable once it has one.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import bencode from 'bencode';
import DHT from 'bittorrent-dht';
import { Catalog } from '../../src/catalog/catalog.js';
import { encodeCatalog } from '../../src/catalog/catalog-file.js';
import { keyPairFromSeed, makeSigner } from '../../src/catalog/ed25519.js';
import { Identity } from '../../src/catalog/identity.js';
import { dhtVerify, PointerClient, RENDEZVOUS } from '../../src/catalog/pointers.js';
import { CatalogService } from '../../src/catalog/service.js';
import { DhtSource } from '../../src/catalog/sources/dht.js';
import { MemoryTransport, type CatalogTransport } from '../../src/catalog/transport.js';
import { makeEntry } from '../unit/catalog/helpers.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const all: any[] = [];
const base: any[] = [];

async function dhtNode(opts: { bootstrapTo?: any[] } = {}): Promise<any> {
  const d = new (DHT as any)({ bootstrap: false, host: '127.0.0.1', verify: dhtVerify });
  await new Promise<void>((r) => d.listen(0, '127.0.0.1', () => r()));
  all.push(d);
  for (const b of opts.bootstrapTo ?? []) {
    d.addNode({ host: '127.0.0.1', port: b.address().port });
    b.addNode({ host: '127.0.0.1', port: d.address().port });
  }
  // addNode pings first: wait until the node is in the routing table (bounded).
  for (let i = 0; i < 100 && opts.bootstrapTo?.length && d.nodes.count() === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return d;
}

const destroy = (d: any) => new Promise<void>((r) => d.destroy(() => r()));

before(async () => {
  for (let i = 0; i < 4; i++) base.push(await dhtNode());
  for (const a of base) for (const b of base) if (a !== b) a.addNode({ host: '127.0.0.1', port: b.address().port });
});

after(async () => {
  await Promise.all(all.map(destroy));
});

async function member(dht: any, transport: CatalogTransport, identity?: Identity) {
  const catalog = await Catalog.open({ identity });
  const pointers = new PointerClient(dht);
  const source = new DhtSource(catalog, pointers, transport);
  return { catalog, pointers, source, close: () => (source.close(), pointers.close(), catalog.close()) };
}

const HOSTILE_DESC = 'tiny \u001b[2J\u001b[31mRED\u0007 <img src=x onerror=alert(1)>\u0000 \u202eevil';

test('issue 13 case 6+8: a frozen index, floods and 250 attacker keys do not hide the honest acme/tiny', async () => {
  const transport = new MemoryTransport();
  const aliceId = Identity.generate();
  const alice = await member(await dhtNode({ bootstrapTo: base }), transport, aliceId);
  alice.catalog.publish({ name: 'acme/tiny', v1: 'a'.repeat(40), files: 1, size: 1, license: 'mit' });
  await alice.source.publish();

  // The attacker: 20 DHT nodes, each with its own key, and 230 more keys whose feeds they vouch for. Every key signs
  // an `acme/tiny` of its own with a hostile description.
  const attackers: Awaited<ReturnType<typeof member>>[] = [];
  const fakeOf = (id: Identity) =>
    makeEntry(id, 'acme/tiny', 1, {
      description: HOSTILE_DESC,
      v1: createHash('sha1').update(id.publisher).digest('hex'),
    });
  for (let i = 0; i < 20; i++) {
    const m = await member(await dhtNode({ bootstrapTo: base }), transport, Identity.generate());
    m.catalog.ingest([fakeOf(m.catalog.identity!).record], { id: 'local', kind: 'local' });
    await m.source.publish();
    attackers.push(m);
  }
  const extra = Array.from({ length: 230 }, () => Identity.generate());
  for (let i = 0; i < extra.length; i += 23) {
    await Promise.all(
      extra.slice(i, i + 23).map(async (id, j) => {
        const ih = await transport.publish(encodeCatalog([fakeOf(id)]));
        await attackers[(i + j) % attackers.length].pointers.publishFeed(id, { infohash: ih, entries: 1, updated: 0 });
      }),
    );
  }
  attackers.forEach((m, i) =>
    m.pointers.setDirectory(
      m.catalog.identity!,
      extra.filter((_, j) => j % attackers.length === i).map((id) => id.publisher),
    ),
  );

  // The old shared index (a key pair anyone can derive) frozen at 2^53+4096, then flooded with equal-seq values.
  const index = keyPairFromSeed(createHash('sha256').update('silmaril:index:v1').digest());
  const sign = makeSigner(index.secretKey);
  const fakeIh = await transport.publish(encodeCatalog(attackers.map((m) => fakeOf(m.catalog.identity!))));
  const put = (seq: number, n: number) =>
    new Promise<void>((r) =>
      base[n % base.length].put(
        {
          k: Buffer.from(index.publicKey),
          salt: Buffer.from('silmaril:index:v1'),
          seq,
          v: Buffer.from(bencode.encode({ ih: Buffer.from(fakeIh, 'hex'), n, t: 0, p: [] })),
          sign,
        },
        () => r(),
      ),
    );
  await put(2 ** 53 + 4096, 0);
  await Promise.all(Array.from({ length: 10 }, (_, n) => put(2 ** 53 + 4096, n + 1)));

  // Dead addresses at the rendezvous: nodes that announce themselves there and go away.
  const ghosts = await Promise.all(Array.from({ length: 30 }, () => dhtNode({ bootstrapTo: [base[0]] })));
  await Promise.all(ghosts.map((g) => new Promise((r) => g.announce(RENDEZVOUS, 0, r))));
  await Promise.all(ghosts.map(destroy));

  // Live liars at the rendezvous: a directory with a forged signature, one at seq 2^53+4096 (validly signed over
  // those exact digits, but not a number we can hold), and one far over the size a directory may have.
  const liarKey = Identity.generate();
  const liarKeys = extra.slice(0, 24).map((id) => id.publisher);
  const directoryItem = (seq: number, v: Buffer, forge = false) => {
    const ref = { salt: Buffer.from('silmaril:directory:v1'), seq, v };
    const sig = Buffer.from(liarKey.sign(bencode.encode(ref).subarray(1, -1)));
    if (forge) sig[0] ^= 1;
    return { v, k: Buffer.from(liarKey.publicKey), sig, seq };
  };
  const dirValue = Buffer.from(bencode.encode({ p: Buffer.concat(liarKeys.map((k) => Buffer.from(k, 'hex'))), t: 0 }));
  for (const item of [
    directoryItem(1, dirValue, true),
    directoryItem(2 ** 53 + 4096, dirValue),
    directoryItem(1, Buffer.alloc(5000, 0x61)),
  ]) {
    const liar = await dhtNode({ bootstrapTo: base });
    liar._values.set(RENDEZVOUS.toString('hex'), item);
    await new Promise((r) => liar.announce(RENDEZVOUS, 0, r));
  }

  // A newcomer who knows one DHT node and trusts nobody yet.
  const carol = await member(await dhtNode({ bootstrapTo: [base[1]] }), transport);
  // Follow passes as the service runs them (each against the same attackers), until Alice's entry shows up: on a
  // loaded machine a pass can miss a reply; the attack must not be what keeps her out.
  const reports = [];
  const isAlice = (e: { publisher: string }) => e.publisher === aliceId.publisher;
  for (let pass = 0; pass < 5 && !carol.catalog.search({ text: 'tiny', limit: 1000 }).entries.some(isAlice); pass++) {
    reports.push(await carol.source.refresh({ fresh: true }));
  }
  const tiny = carol.catalog.search({ text: 'tiny', limit: 1000 }).entries;
  const honest = tiny.find(isAlice);
  // None of the liars' directories counted: every directory read is signed by a key that answered for itself.
  assert.ok(reports.length > 0 && reports.every((r) => r.directories <= attackers.length + 1), JSON.stringify(reports));
  assert.ok(honest, `the honest acme/tiny is found among ${tiny.length} claims: ${JSON.stringify(reports)}`);
  // Names are not identities: signed, not trusted, and flagged as claimed by others.
  assert.equal(honest.signed, true);
  assert.equal(honest.trusted, false);
  assert.ok(honest.conflicts.length >= 20, `conflicts: ${honest.conflicts.length}`);
  assert.ok(tiny.every((e) => !e.trusted));
  // Trusting Alice's fingerprint: her entry alone is trusted, and `--trusted` keeps it alone.
  const trust = [aliceId.fingerprint];
  const trusted = carol.catalog.search({ text: 'tiny', trust, trustedOnly: true }).entries;
  assert.deepEqual(
    trusted.map((e) => [e.publisher, e.trusted]),
    [[aliceId.publisher, true]],
  );
  // The hostile descriptions come out as plain text: no ESC, BEL, NUL or direction override; the HTML is just text.
  const fake = tiny.find((e) => e.publisher !== aliceId.publisher)!;
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(fake.description, /[\u0000-\u001f\u007f\u202e]/);
  assert.match(fake.description, /<img src=x onerror=alert\(1\)>/);

  for (const m of [alice, carol, ...attackers]) m.close();
});

/**
 * Catalog bytes in memory, but found only through the DHT like a torrent's peers: `fetch` looks the infohash up on
 * the fetcher's DHT node and fails with "no seeder" unless someone announced it there.
 */
class AnnouncedTransport implements CatalogTransport {
  constructor(
    private readonly dht: any,
    private readonly blobs: Map<string, Uint8Array>,
    /** Publishes that fail first, as a node's transport does while it is still starting. */
    private failures = 0,
  ) {}
  async publish(bytes: Uint8Array) {
    if (this.failures > 0 && this.failures--) throw new Error('the engine is not listening yet');
    const ih = createHash('sha1').update(bytes).digest('hex');
    this.blobs.set(ih, bytes);
    return ih;
  }
  announce(ih: string) {
    this.dht.announce(ih, 6881, () => {});
  }
  async fetch(ih: string) {
    const peers = await new Promise<number>((resolve) => {
      let n = 0;
      const onPeer = (_p: unknown, h: Buffer) => h.toString('hex') === ih && n++;
      this.dht.on('peer', onPeer);
      this.dht.lookup(ih, () => (this.dht.removeListener('peer', onPeer), resolve(n)));
    });
    const b = this.blobs.get(ih);
    if (!peers || !b) throw new Error(`no seeder for catalog ${ih}`);
    return b;
  }
}

for (const early of [
  { why: 'before its DHT had nodes', failures: 0 },
  { why: 'while its transport was still starting (the first publish threw)', failures: 1 },
]) {
  test(`issue 13 case 9: a publisher that shared ${early.why} becomes reachable`, async () => {
    const blobs = new Map<string, Uint8Array>();
    const home = await mkdtemp(join(tmpdir(), 'silmaril-early-'));
    const lonely = await dhtNode();
    const service = await CatalogService.open({ home, dht: lonely });
    try {
      await service.start({ transport: new AnnouncedTransport(lonely, blobs, early.failures), dht: lonely });
      service.catalog.publish({ name: 'early/bird', v1: 'e'.repeat(40), files: 1, size: 1, license: 'mit' });
      // Nobody hears it: the DHT has no node yet (or the publish fails outright). It must not give up.
      const first = await service.publish().catch((err: Error) => ({ acks: -1, err }));
      assert.equal(first.acks <= 0, true);
      // Later the network appears (a network of its own, away from the attackers of the test above).
      const net = [await dhtNode()];
      net.push(await dhtNode({ bootstrapTo: net }), await dhtNode({ bootstrapTo: net }));
      lonely.addNode({ host: '127.0.0.1', port: net[0].address().port });
      const newcomerDht = await dhtNode({ bootstrapTo: [net[2]] });
      const carol = await member(newcomerDht, new AnnouncedTransport(newcomerDht, blobs));
      let found = 0;
      for (let i = 0; i < 60 && !found; i++) {
        await new Promise((r) => setTimeout(r, 500));
        await carol.source.refresh({ fresh: true });
        found = carol.catalog.search({ text: 'bird' }).total;
      }
      assert.equal(found, 1, 'the early publisher was never reachable');
      carol.close();
    } finally {
      await service.stop();
      await rm(home, { recursive: true, force: true });
    }
  });
}
