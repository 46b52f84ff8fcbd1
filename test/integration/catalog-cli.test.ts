// The catalog commands of the bundled CLI on one home: share reads the model's own files (safetensors header,
// model card), the user's words win, list shows shares and local models, discover filters, withdraw hides.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../../src/catalog/catalog.js';
import { Identity } from '../../src/catalog/identity.js';
import { makeEntry } from '../unit/catalog/helpers.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
let dir: string;

before(async () => {
  assert.ok(existsSync(cli), 'dist/cli.js is missing: run `npm run build` first (npm test does)');
  dir = await mkdtemp(join(tmpdir(), 'silmaril-cli-catalog-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function silmaril(...args: string[]): Promise<{ code: number; out: any[]; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? ((error as any).code ?? 1) : 0;
      const out = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      resolve({ code: typeof code === 'number' ? code : 1, out, err: stderr });
    });
  });
}

function safetensors(shape: number[]): Buffer {
  const n = shape.reduce((a, b) => a * b, 1) * 2;
  const json = Buffer.from(JSON.stringify({ 'w.weight': { dtype: 'BF16', shape, data_offsets: [0, n] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(n)]);
}

test(
  'share, list, discover with filters, withdraw; bad input is one line on stderr',
  { timeout: 120_000 },
  async () => {
    const home = join(dir, 'home');
    const model = join(home, 'models', 'tiny-llama');
    await mkdir(model, { recursive: true });
    await writeFile(join(model, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'] }));
    await writeFile(join(model, 'README.md'), '---\nlicense: apache-2.0\ntags: [llm]\n---\nA very small llama.\n');
    await writeFile(join(model, 'model.safetensors'), safetensors([64, 64]));

    const bad = await silmaril('share', model, '--name', 'acme/tiny-llama', '--home', home);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^silmaril share: --license is missing \(.*\)\n$/);
    const badName = await silmaril('share', model, '--name', '../x', '--license', 'mit', '--home', home);
    assert.notEqual(badName.code, 0);
    assert.equal(badName.err.trim().split('\n').length, 1);

    // The user's license wins over the card's; tags and the rest come from the files.
    const shared = await silmaril(
      'share',
      model,
      '--name',
      'acme/tiny-llama',
      '--license',
      'mit',
      '--home',
      home,
      '--json',
    );
    assert.equal(shared.code, 0, shared.err);
    const [s] = shared.out;
    assert.equal(s.event, 'shared');
    assert.equal(s.license, 'mit');
    assert.deepEqual(s.tags, ['llm']);
    assert.equal(s.format, 'safetensors');
    assert.match(s.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}&xt=urn:btmh:1220[0-9a-f]{64}/);
    assert.equal((await stat(join(home, 'identity.key'))).mode & 0o777, 0o600);

    const listed = await silmaril('list', '--home', home, '--json');
    const share = listed.out.find((l) => l.kind === 'share');
    const local = listed.out.find((l) => l.kind === 'model');
    assert.equal(share.name, 'acme/tiny-llama');
    assert.equal(share.v1, s.v1);
    assert.equal(local.name, 'tiny-llama');
    assert.equal(local.parameters, 4096);
    assert.equal(local.architecture, 'LlamaForCausalLM');
    assert.equal(local.license, 'apache-2.0');

    const hit = await silmaril(
      'discover',
      'small llama',
      '--format',
      'safetensors',
      '--license',
      'mit',
      '--home',
      home,
      '--json',
    );
    assert.equal(hit.out.length, 1);
    for (const k of ['name', 'publisher', 'license', 'tags', 'size', 'v1', 'v2', 'magnet', 'trusted', 'signed']) {
      assert.ok(k in hit.out[0], `discover --json has ${k}`);
    }
    assert.equal(hit.out[0].signed, true);
    assert.equal(hit.out[0].trusted, false);
    assert.equal(hit.out[0].publisher, s.publisher);
    assert.deepEqual((await silmaril('discover', '--format', 'gguf', '--home', home, '--json')).out, []);
    const badSort = await silmaril('discover', '--sort', 'color', '--home', home);
    assert.equal(badSort.code, 2);

    const w = await silmaril('share', '--name', 'acme/tiny-llama', '--withdraw', '--home', home, '--json');
    assert.equal(w.out[0].seq, 2);
    assert.deepEqual((await silmaril('discover', '--home', home, '--json')).out, []);
    assert.equal((await silmaril('list', '--home', home, '--json')).out.filter((l) => l.kind === 'share').length, 0);
  },
);

test('issue 13 case 8: discover flags two keys claiming one name, trusts only chosen keys, prints plain text', async () => {
  const home = join(dir, 'home-names');
  const real = Identity.generate();
  const other = Identity.generate();
  const c = await Catalog.open({ home });
  const desc = 'tiny \u001b[2J\u001b[31mRED\u0007\u0000 <b>bold</b>';
  c.ingest([makeEntry(real, 'acme/tiny', 1, { description: desc }).record], { id: 'x', kind: 'test' });
  c.ingest([makeEntry(other, 'acme/tiny', 1, { description: desc, v1: 'f'.repeat(40), v2: 'e'.repeat(64) }).record], {
    id: 'y',
    kind: 'test',
  });
  await c.save();
  c.close();

  const text = await silmaril('discover', 'tiny', '--home', home);
  assert.equal(text.code, 0);
  const raw = await new Promise<string>((resolve) =>
    execFile(process.execPath, [cli, 'discover', 'tiny', '--home', home], (_e, stdout) => resolve(stdout)),
  );
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(raw, /[\u0000-\u0008\u000b-\u001f\u007f]/);
  assert.match(raw, /<b>bold<\/b>/);
  assert.match(raw, new RegExp(`signed by ${real.fingerprint}`));
  assert.match(raw, new RegExp(`also claimed by ${other.fingerprint}`));
  assert.match(raw, new RegExp(`also claimed by ${real.fingerprint}`));

  const json = await silmaril('discover', 'tiny', '--home', home, '--json');
  assert.deepEqual(json.out.map((e) => [e.trusted, e.signed, e.conflicts.length]).sort(), [
    [false, true, 1],
    [false, true, 1],
  ]);
  // --trusted keeps nothing until a key is chosen; then only that key's entry.
  assert.deepEqual((await silmaril('discover', 'tiny', '--trusted', '--home', home, '--json')).out, []);
  const once = await silmaril('discover', 'tiny', '--trusted', '--trust', real.fingerprint, '--home', home, '--json');
  assert.deepEqual(
    once.out.map((e) => [e.publisher, e.trusted]),
    [[real.publisher, true]],
  );
  assert.equal((await silmaril('discover', '--trust-add', real.publisher, '--home', home)).code, 0);
  const saved = await silmaril('discover', 'tiny', '--trusted', '--home', home, '--json');
  assert.deepEqual(
    saved.out.map((e) => e.publisher),
    [real.publisher],
  );
  // A prefix is not a key.
  const prefix = await silmaril('discover', '--trust', real.publisher.slice(0, 8), '--home', home);
  assert.equal(prefix.code, 2);
});
