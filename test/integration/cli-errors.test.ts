// Every `silmaril` command given bad input, through the bundled CLI (dist/cli.js): each case prints exactly one line
// on stderr, `silmaril <command>: <problem> (<fix>)`, never a stack or a raw Node error code, and exits with the
// documented code (2 usage, 1 failure; README "The command line", `silmaril --help`). Also the empty states
// (`list`, `discover` on an empty home) and `verify` telling missing files from damaged ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, Daemons } from './daemon-helpers.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let home: string;
let model: string;
let torrent: string;
let busy: Server;
let busyPort: number;

function silmaril(args: string[], opts: { cwd?: string; uid?: number; gid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        timeout: 60_000,
        cwd: opts.cwd ?? dir,
        uid: opts.uid,
        gid: opts.gid,
        // A home and a Hugging Face cache of the test's own: nothing of the machine's leaks in.
        env: { ...process.env, SILMARIL_HOME: home, HF_HUB_CACHE: join(dir, 'hf'), SILMARIL_DEBUG: '' },
      },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
      },
    );
  });
}

/** The one line on stderr, checked for the shape every error shares. */
function oneLine(r: Run, label: string): string {
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `${label}: one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |\bE[A-Z]{3,}\b|ERR_[A-Z_]+|undefined|\[object/, `${label}: ${r.stderr}`);
  return lines[0];
}

before(async () => {
  assert.ok(existsSync(cli), 'dist/cli.js is missing: run `npm run build` first (npm test does)');
  dir = await mkdtemp(join(tmpdir(), 'silmaril-cli-errors-'));
  home = join(dir, 'home');
  model = join(dir, 'tiny');
  await mkdir(join(model, 'sub'), { recursive: true });
  await writeFile(join(model, 'model.safetensors'), randomBytes(300_000));
  await writeFile(join(model, 'sub', 'config.json'), '{"model_type":"tiny"}');
  torrent = join(dir, 'tiny.torrent');
  const made = await silmaril(['create', model, '--out', torrent]);
  assert.equal(made.code, 0, made.stderr);
  await writeFile(join(dir, 'junk.torrent'), 'hello');
  await writeFile(join(dir, 'a-file'), 'not a folder');
  await mkdir(join(dir, 'empty'));
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as { port: number }).port;
});

after(async () => {
  busy?.close();
  await rm(dir, { recursive: true, force: true });
});

const V1 = '0123456789abcdef0123456789abcdef01234567';

/** [args, exit code, the stderr line (exact text, or a pattern when it holds a temp path)]. */
function cases(): [string[], number, string | RegExp][] {
  const fileHome = join(dir, 'a-file');
  return [
    // The command itself.
    [
      [],
      2,
      'silmaril: missing command (one of: create, daemon, discover, get, info, list, seed, share, status, stop, tracker, verify; see silmaril --help)',
    ],
    [
      ['bogus'],
      2,
      'silmaril: unknown command "bogus" (commands: create, daemon, discover, get, info, list, seed, share, status, stop, tracker, verify; see silmaril --help)',
    ],
    [['gte', 'x'], 2, /^silmaril: unknown command "gte" \(did you mean get\? commands: /],
    [['help', 'nope'], 2, /^silmaril: unknown command "nope" \(commands: /],
    // get
    [
      ['get', 'not-a-magnet'],
      2,
      'silmaril get: not-a-magnet is not a magnet link, a .torrent file, an infohash or an org/model name (try: silmaril get magnet:?xt=urn:btih:..., or find a model with silmaril discover)',
    ],
    [['get', '--foo', 'x'], 2, 'silmaril get: unknown option --foo (see silmaril get --help)'],
    [['get', '--ot', 'x'], 2, 'silmaril get: unknown option --ot (did you mean --out? see silmaril get --help)'],
    [
      ['get'],
      2,
      'silmaril get: missing <magnet|torrent|infohash|org/model> (usage: silmaril get <magnet|torrent|infohash|org/model> [options])',
    ],
    [
      ['get', 'a', 'b'],
      2,
      'silmaril get: unexpected argument "b" (usage: silmaril get <magnet|torrent|infohash|org/model> [options])',
    ],
    [['get', 'nowhere/model.torrent'], 2, 'silmaril get: no such torrent file: nowhere/model.torrent (check the path)'],
    [['get', 'tiny'], 2, 'silmaril get: tiny is a folder, not a torrent file (give the .torrent file)'],
    [['get', 'magnet:?xt=urn:btih:xyz'], 2, /^silmaril get: .*magnet.* \(copy the whole magnet link, in quotes: /],
    [
      ['get', V1 + 'ab'],
      2,
      /^silmaril get: "0123456789abcdef0123456789abcdef01234567ab" has 42 hex digits: an infohash has 40 \(v1\) or 64 \(v2\).* \(check the hash was copied whole\)$/,
    ],
    [
      ['get', V1, '--port', '-5'],
      2,
      'silmaril get: --port must be a whole number from 0 to 65535, got "-5" (see silmaril get --help)',
    ],
    [
      ['get', V1, '--port', '70000'],
      2,
      'silmaril get: --port must be a whole number from 0 to 65535, got "70000" (see silmaril get --help)',
    ],
    [
      ['get', V1, '--max-conns', 'NaN'],
      2,
      'silmaril get: --max-conns must be a whole number from 1 to 10000, got "NaN" (see silmaril get --help)',
    ],
    [
      ['get', V1, '--peer', 'nohost'],
      2,
      'silmaril get: --peer must be HOST:PORT, got "nohost" (see silmaril get --help)',
    ],
    [['get', V1, '--json=1'], 2, 'silmaril get: --json takes no value (see silmaril get --help)'],
    [['get', V1, '--out'], 2, 'silmaril get: --out needs a value (see silmaril get --help)'],
    [
      ['get', V1, '--out', '-x'],
      2,
      'silmaril get: --out needs a value (write --out=VALUE for a value that starts with "-")',
    ],
    [
      ['get', 'acme/nothing-here', '--no-dht', '--no-lsd'],
      1,
      'silmaril get: model acme/nothing-here not found in the catalog (silmaril discover lists the models this home knows)',
    ],
    [['get', V1, '--out', 'a-file'], 2, 'silmaril get: --out a-file is a file, not a folder (choose a folder)'],
    [
      ['get', V1, '--out', 'a-file/sub'],
      2,
      'silmaril get: --out a-file/sub cannot be a folder: a file is in its path (choose a folder)',
    ],
    // Node's recursive mkdir never returns under /proc (every mkdir there answers ENOENT): a failure, not a hang.
    [
      ['get', V1, '--out', '/proc/x'],
      1,
      'silmaril get: cannot create --out /proc/x: the folder cannot be made there (choose another --out)',
    ],
    [
      ['get', V1, '--out', '/proc/x/y/z'],
      1,
      'silmaril get: cannot create --out /proc/x/y/z: the folder cannot be made there (choose another --out)',
    ],
    [
      ['create', 'tiny', '--out', '/proc/x/t.torrent'],
      1,
      'silmaril create: cannot create --out /proc/x: the folder cannot be made there (choose another --out)',
    ],
    [
      ['get', V1, '--dht-bootstrap', 'nonsense'],
      2,
      'silmaril get: --dht-bootstrap takes HOST:PORT,HOST:PORT..., got "nonsense" (see silmaril get --help)',
    ],
    [
      ['get', V1, '--no-utp', '--no-tcp'],
      2,
      'silmaril get: --no-utp and --no-tcp together leave no way to reach peers (see silmaril get --help)',
    ],
    [
      ['get', V1, '--home', fileHome],
      2,
      `silmaril get: the home ${fileHome} (--home) is a file, not a folder (pass --home DIR or set SILMARIL_HOME to a folder)`,
    ],
    // verify: a path that does not exist is a usage error, as in create
    [['verify'], 2, 'silmaril verify: missing <torrent> and <path> (usage: silmaril verify <torrent> <path> [--json])'],
    [['verify', 'x'], 2, 'silmaril verify: missing <path> (usage: silmaril verify <torrent> <path> [--json])'],
    [
      ['verify', 'a', 'b', 'c'],
      2,
      'silmaril verify: unexpected argument "c" (usage: silmaril verify <torrent> <path> [--json])',
    ],
    [['verify', 'nope.torrent', '.'], 2, 'silmaril verify: no such torrent file: nope.torrent (check the path)'],
    [
      ['verify', 'tiny.torrent', './nope'],
      2,
      'silmaril verify: no such file or folder to verify: ./nope (check the path)',
    ],
    [['verify', 'tiny', '.'], 2, 'silmaril verify: tiny is a folder, not a torrent file (give the .torrent file)'],
    [
      ['verify', 'junk.torrent', '.'],
      1,
      'silmaril verify: junk.torrent: not a torrent: it does not start with a bencoded dictionary',
    ],
    // create
    [['create'], 2, 'silmaril create: missing <path> (usage: silmaril create <path> [options])'],
    [['create', './nope'], 2, 'silmaril create: no such file or folder: ./nope (check the path)'],
    [
      ['create', 'tiny', '--piece-length', '3K'],
      2,
      'silmaril create: --piece-length must be a power of two from 16K to 16M, got "3K" (e.g. 256K or 4M; leave it out for automatic)',
    ],
    [
      ['create', 'tiny', '--tracker', 'ftp://x/announce'],
      2,
      'silmaril create: --tracker must be an http, https, udp, ws or wss URL, got "ftp://x/announce" (see silmaril create --help)',
    ],
    [
      ['create', 'tiny', '--tracker', 'not a url'],
      2,
      'silmaril create: --tracker must be a URL, got "not a url" (e.g. http://tracker.example:6969/announce)',
    ],
    [
      ['create', 'tiny', '--name', 'a/b'],
      2,
      'silmaril create: --name must be a plain name (no slashes), got "a/b" (see silmaril create --help)',
    ],
    [
      ['create', 'tiny', '--out', 'tiny/x.torrent'],
      2,
      /^silmaril create: refusing to write \/.*\/tiny\/x\.torrent inside the folder being shared \(choose an --out outside it\)$/,
    ],
    [
      ['create', 'tiny', '--out', 'a-file/x.torrent'],
      2,
      'silmaril create: --out a-file is a file, not a folder (choose a folder)',
    ],
    [
      ['create', 'tiny', '--out', 'empty'],
      2,
      'silmaril create: --out empty is a folder (give a file name: --out empty/tiny.torrent)',
    ],
    [
      ['create', 'empty'],
      1,
      /^silmaril create: nothing to share in \/.*\/empty: no files \(put the files in it, or give a file itself\)$/,
    ],
    [
      ['verify', 'tiny.torrent', 'a-file'],
      2,
      'silmaril verify: a-file is a file, but tiny.torrent holds several files (give the folder that holds them)',
    ],
    // info
    [['info'], 2, 'silmaril info: missing <torrent> (usage: silmaril info <torrent> [--json])'],
    [['info', 'nope.torrent'], 2, 'silmaril info: no such torrent file: nope.torrent (check the path)'],
    [
      ['info', 'junk.torrent'],
      1,
      'silmaril info: junk.torrent: not a torrent: it does not start with a bencoded dictionary',
    ],
    // seed
    [['seed'], 2, 'silmaril seed: missing <path> (usage: silmaril seed <path> [options])'],
    [['seed', './nope'], 2, 'silmaril seed: no such file or folder to seed: ./nope (check the path)'],
    [
      ['seed', 'tiny', '--torrent', 'nope.torrent'],
      2,
      'silmaril seed: no such torrent file: nope.torrent (check the path)',
    ],
    [
      ['seed', 'tiny', '--torrent', 'junk.torrent'],
      1,
      'silmaril seed: junk.torrent: not a torrent: it does not start with a bencoded dictionary',
    ],
    [
      ['seed', 'tiny', '--upload-limit', '0'],
      2,
      'silmaril seed: --upload-limit must be a whole number from 1 to 10000000, got "0" (see silmaril seed --help)',
    ],
    // share
    [
      ['share'],
      2,
      'silmaril share: missing <path> (usage: silmaril share <path> --name ORG/MODEL --license L [options])',
    ],
    [
      ['share', 'tiny'],
      2,
      'silmaril share: --license is missing (e.g. --license apache-2.0; the license the model is under)',
    ],
    [
      ['share', 'tiny', '--license', 'mit'],
      2,
      'silmaril share: --name is missing (e.g. --name acme/tiny-llm: the catalog name, ORG/MODEL)',
    ],
    [
      ['share', './nope', '--name', 'a/b', '--license', 'mit'],
      2,
      'silmaril share: no such file or folder to share: ./nope (check the path)',
    ],
    [['share', '--withdraw'], 2, 'silmaril share: --withdraw needs --name ORG/MODEL (the name to withdraw)'],
    [
      ['share', 'tiny', '--name', 'a/b', '--license', 'mit', '--home', fileHome],
      2,
      `silmaril share: the home ${fileHome} (--home) is a file, not a folder (pass --home DIR or set SILMARIL_HOME to a folder)`,
    ],
    // list, discover
    [['list', 'extra'], 2, 'silmaril list: takes no arguments, got "extra" (usage: silmaril list [options])'],
    [
      ['list', '--home', fileHome],
      2,
      `silmaril list: the home ${fileHome} (--home) is a file, not a folder (pass --home DIR or set SILMARIL_HOME to a folder)`,
    ],
    [['list', '--dir', './nope'], 2, 'silmaril list: no such folder to scan: ./nope (check the path)'],
    [
      ['discover', '--limit', '0', '--offline'],
      2,
      'silmaril discover: --limit must be a whole number from 1 to 10000, got "0" (see silmaril discover --help)',
    ],
    [
      ['discover', '--timeout', '-3'],
      2,
      'silmaril discover: --timeout must be a whole number from 1 to 3600, got "-3" (see silmaril discover --help)',
    ],
    [
      ['discover', '--sort', 'bad'],
      2,
      'silmaril discover: --sort must be name, size, date or seeders, got "bad" (see silmaril discover --help)',
    ],
    [
      ['discover', '--trust', 'abc'],
      2,
      'silmaril discover: --trust: not a publisher key or fingerprint: "abc" (give the full 64-hex key or the fingerprint xxxx:xxxx:xxxx:xxxx that discover shows)',
    ],
    [
      ['discover', '--trust-add', 'zz'],
      2,
      'silmaril discover: --trust-add: not a publisher key or fingerprint: "zz" (give the full 64-hex key or the fingerprint xxxx:xxxx:xxxx:xxxx that discover shows)',
    ],
    [
      ['discover', '--publisher', 'bob!'],
      2,
      'silmaril discover: --publisher takes a publisher key, a key prefix or a fingerprint, got "bob!" (hex digits, or xxxx:xxxx:xxxx:xxxx as discover shows)',
    ],
    [
      ['discover', '--min-size', '10', '--max-size', '5'],
      2,
      'silmaril discover: --min-size 10 is larger than --max-size 5 (see silmaril discover --help)',
    ],
    [
      ['discover', '--home', fileHome],
      2,
      `silmaril discover: the home ${fileHome} (--home) is a file, not a folder (pass --home DIR or set SILMARIL_HOME to a folder)`,
    ],
    // daemon, status, stop, tracker
    [['daemon', 'x'], 2, 'silmaril daemon: takes no arguments, got "x" (usage: silmaril daemon [options])'],
    [
      ['daemon', '--refresh', 'x'],
      2,
      'silmaril daemon: --refresh must be a whole number from 1 to 86400, got "x" (see silmaril daemon --help)',
    ],
    [['status', 'x'], 2, 'silmaril status: takes no arguments, got "x" (usage: silmaril status [options])'],
    [
      ['status', '--home', fileHome],
      2,
      `silmaril status: the home ${fileHome} (--home) is a file, not a folder (pass --home DIR or set SILMARIL_HOME to a folder)`,
    ],
    [
      ['stop', '--timeout', '-1'],
      2,
      'silmaril stop: --timeout must be a whole number from 1 to 3600, got "-1" (see silmaril stop --help)',
    ],
    [['tracker', 'x'], 2, 'silmaril tracker: takes no arguments, got "x" (usage: silmaril tracker [options])'],
    [['tracker', '--db', 'a-file/t.db'], 2, 'silmaril tracker: --db a-file is a file, not a folder (choose a folder)'],
    [['tracker', '--db', 'empty'], 2, 'silmaril tracker: --db empty is a folder (give a file name, e.g. tracker.db)'],
    [
      ['tracker', '--port', '-1'],
      2,
      'silmaril tracker: --port must be a whole number from 0 to 65535, got "-1" (see silmaril tracker --help)',
    ],
    [
      ['tracker', '--rate-limit', '1.5'],
      2,
      'silmaril tracker: --rate-limit must be a whole number from 0 to 1000000, got "1.5" (see silmaril tracker --help)',
    ],
  ];
}

test('bad input to every command: one line naming the problem and the fix, exit 2 (usage) or 1 (failure)', async () => {
  for (const [args, code, expected] of cases()) {
    const label = `silmaril ${args.join(' ')}`;
    const r = await silmaril(args);
    const line = oneLine(r, label);
    if (typeof expected === 'string') assert.equal(line, expected, label);
    else assert.match(line, expected, label);
    assert.equal(r.code, code, `${label}: exit code (stderr: ${r.stderr})`);
  }
});

test('a port in use and an unreachable registry are failures (exit 1) in words, not ECONNREFUSED', async () => {
  const tracker = await silmaril(['tracker', '--host', '127.0.0.1', '--port', String(busyPort)]);
  assert.equal(
    oneLine(tracker, 'tracker on a busy port'),
    `silmaril tracker: 127.0.0.1:${busyPort} is already in use (choose another --port, or 0 for any free port)`,
  );
  assert.equal(tracker.code, 1);

  // A port nothing listens on (closed again at once).
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const closed = (free.address() as { port: number }).port;
  await new Promise((r) => free.close(r));
  const url = `http://127.0.0.1:${closed}/announce`;
  const created = await silmaril(['create', 'tiny', '--tracker', url, '--out', join(dir, 'reg.torrent')]);
  assert.equal(
    oneLine(created, 'create with an unreachable registry'),
    `silmaril create: could not register with ${url}: cannot reach the registry at http://127.0.0.1:${closed}/api/registry/search?limit=1: connection refused (the torrent was written; check the tracker URL, or pass --no-register)`,
  );
  assert.equal(created.code, 1);
  assert.ok(existsSync(join(dir, 'reg.torrent')), 'the torrent was written');

  // discover reading a registry that does not answer: no results, and the source's error in words.
  const found = await silmaril([
    'discover',
    '--tracker',
    url,
    '--timeout',
    '5',
    '--dht-bootstrap',
    '',
    '--home',
    join(dir, 'h-reg'),
  ]);
  assert.equal(found.code, 0, found.stderr);
  assert.equal(
    found.stdout,
    'No models found (the catalog this home knows is empty). A source could not be read (listed below).\n',
  );
  assert.match(
    found.stderr,
    new RegExp(`tracker:${url.replace(/[.?]/g, '\\$&')} \\(0 entries, never read, last error: could not connect\\)`),
  );
  assert.doesNotMatch(found.stderr, /fetch failed|ECONNREFUSED/);
});

test('status and stop with no node running this home: one line on stdout, exit 3', async () => {
  for (const cmd of ['status', 'stop']) {
    const r = await silmaril([cmd]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, new RegExp(`^no node is running for ${home.replace(/[.]/g, '\\.')}`));
  }
});

test('empty states: list and discover on an empty home say so and how to go on (exit 0)', async () => {
  const empty = join(dir, 'empty-home');
  const list = await silmaril(['list', '--home', empty]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stderr, '');
  assert.equal(
    list.stdout,
    `No models yet. Share one with: silmaril share <folder> --name ORG/MODEL --license L (looked in ${join(empty, 'models')}, ${join(dir, 'hf')})\n`,
  );
  // --json stays machine-readable: an empty list is no lines at all.
  assert.equal((await silmaril(['list', '--home', empty, '--json'])).stdout, '');

  const all = await silmaril(['discover', '--offline', '--home', empty]);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(
    all.stdout,
    'No models found (the catalog this home knows is empty). Widen the search: without --offline, to read the network; --tracker URL to read a registry too.\n',
  );
  const narrow = await silmaril(['discover', 'tiny', '--license', 'mit', '--offline', '--home', empty]);
  assert.equal(narrow.code, 0, narrow.stderr);
  assert.equal(
    narrow.stdout,
    'No models found for "tiny". Widen the search: fewer or shorter words; without --license; without --offline, to read the network; --tracker URL to read a registry too.\n',
  );
});

test('verify counts missing files apart from damaged ones, and says how to repair in place', async () => {
  const copy = join(dir, 'verify-copy');
  await mkdir(copy);
  const made = await silmaril(['create', 'tiny', '--out', join(copy, 'tiny.torrent'), '--piece-length', '16K']);
  assert.equal(made.code, 0, made.stderr);
  const ok = await silmaril(['verify', join(copy, 'tiny.torrent'), model]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `ok: ${model}: all 293 KiB in 2 files verify\n`);

  const broken = join(copy, 'tiny');
  await mkdir(broken);
  await writeFile(join(broken, 'model.safetensors'), randomBytes(300_000)); // right size, wrong bytes
  const missingOnly = await silmaril(['verify', join(copy, 'tiny.torrent'), broken]);
  assert.equal(missingOnly.code, 1);
  assert.match(missingOnly.stdout, /^model\.safetensors: damaged, pieces 0-18/m);
  assert.match(missingOnly.stdout, /^sub\/config\.json: missing$/m);
  assert.equal(
    oneLine(missingOnly, 'verify, one damaged and one missing'),
    `silmaril verify: verification failed: 1 file missing and 1 damaged file in ${broken} (silmaril get ${join(copy, 'tiny.torrent')} --out ${copy} fetches what is missing or damaged)`,
  );

  // Only missing: not "damaged".
  await rm(join(broken, 'model.safetensors'));
  const none = await silmaril(['verify', join(copy, 'tiny.torrent'), broken]);
  assert.equal(none.code, 1);
  assert.equal(
    oneLine(none, 'verify, all missing'),
    `silmaril verify: verification failed: 2 files missing in ${broken} (silmaril get ${join(copy, 'tiny.torrent')} --out ${copy} fetches what is missing or damaged)`,
  );
});

test('verify tells an unreadable file from a missing one, and says to fix its permissions', async (t) => {
  // Root reads everything: the verify runs as nobody (65534) when the tests run as root, on a copy it may list.
  const asRoot = process.getuid?.() === 0;
  const opts = asRoot ? { uid: 65534, gid: 65534 } : {};
  const copy = join(dir, 'verify-unreadable');
  await mkdir(join(copy, 'tiny', 'sub'), { recursive: true });
  const made = await silmaril(['create', 'tiny', '--out', join(copy, 'tiny.torrent')]);
  assert.equal(made.code, 0, made.stderr);
  await writeFile(join(copy, 'tiny', 'sub', 'config.json'), '{"model_type":"tiny"}');
  await writeFile(join(copy, 'tiny', 'model.safetensors'), randomBytes(300_000));
  await chmod(dir, 0o755);
  await chmod(copy, 0o755);
  await chmod(join(copy, 'tiny'), 0o755);
  await chmod(join(copy, 'tiny', 'sub'), 0o755);
  await chmod(join(copy, 'tiny.torrent'), 0o644);
  await chmod(join(copy, 'tiny', 'sub', 'config.json'), 0o644);
  await chmod(join(copy, 'tiny', 'model.safetensors'), 0o000);
  t.after(() => chmod(join(copy, 'tiny', 'model.safetensors'), 0o644));
  const r = await silmaril(['verify', join(copy, 'tiny.torrent'), join(copy, 'tiny')], opts);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'model.safetensors: unreadable (permission denied)\n');
  assert.equal(
    oneLine(r, 'verify, unreadable'),
    `silmaril verify: verification failed: 1 file unreadable in ${join(copy, 'tiny')} (check the permissions of the files named above)`,
  );
});

test('an unreadable folder is a failure (exit 1) naming the folder, in create, verify and seed', async (t) => {
  // Root reads everything: the check runs as nobody (65534) when the tests run as root.
  const asRoot = process.getuid?.() === 0;
  const opts = asRoot ? { uid: 65534, gid: 65534 } : {};
  const locked = join(dir, 'locked');
  await mkdir(locked);
  await writeFile(join(locked, 'w.bin'), 'x');
  await chmod(dir, 0o755);
  await chmod(locked, 0o000);
  t.after(() => chmod(locked, 0o755));
  const cwd = dir;
  for (const [cmd, args] of [
    ['create', ['create', 'locked', '--out', join(tmpdir(), `silmaril-never-${process.pid}.torrent`)]],
    ['verify', ['verify', 'tiny.torrent', 'locked']],
    ['seed', ['seed', 'locked', '--no-dht', '--no-lsd', '--home', join(tmpdir(), `silmaril-never-${process.pid}`)]],
  ] as const) {
    const r = await silmaril([...args], { cwd, ...opts });
    assert.equal(
      oneLine(r, cmd),
      `silmaril ${cmd}: cannot read locked: permission denied (check its permissions)`,
      `${cmd} as ${asRoot ? 'nobody' : 'this user'}`,
    );
    assert.equal(r.code, 1);
  }
});

test('--help: the main help lists every command and the exit codes; a command help ends with them', async () => {
  const main = await silmaril(['--help']);
  assert.equal(main.code, 0);
  for (const name of [
    'create',
    'daemon',
    'discover',
    'get',
    'info',
    'list',
    'seed',
    'share',
    'status',
    'stop',
    'tracker',
    'verify',
  ])
    assert.match(main.stdout, new RegExp(`^  ${name} +\\S`, 'm'), name);
  assert.match(
    main.stdout,
    /^exit codes:\n {2}0 +success\n {2}1 +failure: .*\n {2}2 +usage: .*\n {2}3 +status, stop: .*\n {2}130 +interrupted/m,
  );
  const get = await silmaril(['get', '--help']);
  assert.equal(get.code, 0);
  assert.match(get.stdout, /^usage: silmaril get /);
  assert.match(get.stdout, /exit codes: 0 success, 1 failure, 2 usage error \(see silmaril --help\)\n$/);
  // --help wins over anything else wrong on the line.
  assert.equal((await silmaril(['verify', '--bogus', '--help'])).code, 0);
  assert.equal((await silmaril(['help', 'verify'])).code, 0);
});

test('sizes in list, discover, info and status are written by the one formatter: 256 KiB, never 0.00 GB', async () => {
  const q = join(dir, 'quarter');
  await mkdir(q);
  await writeFile(join(q, 'weights.gguf'), randomBytes(262_144));
  const qHome = join(dir, 'q-home');
  const shared = await silmaril(['share', q, '--name', 'acme/quarter', '--license', 'mit', '--home', qHome]);
  assert.equal(shared.code, 0, shared.stderr);
  const v1 = /xt=urn:btih:([0-9a-f]{40})/.exec(shared.stdout)![1];

  const list = await silmaril(['list', '--home', qHome]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^share  acme/quarter  mit  256 KiB  v1 ${v1}$`, 'm'));

  const found = await silmaril(['discover', 'quarter', '--offline', '--home', qHome]);
  assert.equal(found.code, 0, found.stderr);
  assert.match(found.stdout, /^acme\/quarter {2}mit {2}256 KiB {2}\[/m);
  assert.match(found.stdout, /^1 of 1 shown$/m);

  const t = join(dir, 'quarter.torrent');
  assert.equal((await silmaril(['create', q, '--out', t])).code, 0);
  const info = await silmaril(['info', t]);
  assert.match(info.stdout, /^size {10}256 KiB \(262144 bytes\) in 1 file$/m);
  assert.match(info.stdout, /^ {5}256 KiB {2}quarter\/weights\.gguf$/m);

  // status asks the daemon of the home: the share it seeds, and no sub-KiB rate noise.
  const daemons = new Daemons();
  try {
    await daemons.start(qHome, '');
    const status = await silmaril(['status', '--home', qHome]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      new RegExp(`^  seeding +seed +100%  quarter  256 KiB  ↓ 0 B/s ↑ 0 B/s  0 peers  ${v1}$`, 'm'),
    );
    for (const r of [list, found, info, status]) assert.doesNotMatch(r.stdout, /\bGB\b|\d\.\d\d GB|NaN/);
  } finally {
    await daemons.stopAll();
  }
});

test('sharing the same bytes under a second name publishes nothing and says how to go on (exit 1)', async () => {
  const dupHome = join(dir, 'dup-home');
  const first = await silmaril(['share', 'tiny', '--name', 'acme/tiny', '--license', 'mit', '--home', dupHome]);
  assert.equal(first.code, 0, first.stderr);
  const again = await silmaril(['share', 'tiny', '--name', 'acme/tiny-copy', '--license', 'mit', '--home', dupHome]);
  assert.equal(
    oneLine(again, 'share twice'),
    'silmaril share: these bytes are already shared as acme/tiny: nothing published (--name acme/tiny updates that entry; --allow-duplicate publishes a second one)',
  );
  assert.equal(again.code, 1);
  const list = await silmaril(['list', '--home', dupHome]);
  assert.doesNotMatch(list.stdout, /tiny-copy/);
  const forced = await silmaril([
    ...['share', 'tiny', '--name', 'acme/tiny-copy', '--license', 'mit', '--home', dupHome, '--allow-duplicate'],
  ]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match((await silmaril(['list', '--home', dupHome])).stdout, /^share {2}acme\/tiny-copy /m);
});

test('--version, -V and `version` print the version package.json gives, and exit 0', async () => {
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  for (const arg of ['--version', '-V', 'version']) {
    const r = await silmaril([arg]);
    assert.equal(r.code, 0, arg);
    assert.equal(r.stdout, `silmaril ${version}\n`, arg);
  }
});
