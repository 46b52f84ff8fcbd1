// One driver per real BitTorrent client from Debian: how to start it headless on loopback with its own ports and a
// throwaway home, add a download (.torrent or magnet), seed a folder, and clear it between scenarios. Completion
// is not asked of the client: the harness watches the files arrive on disk, byte for byte.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PYTHON, ltGet, ltSeed, startProc, type Proc } from '../../integration/engine-helpers.js';
import { freePort, until, type Model, type TorrentFiles } from './harness.js';

export type How = 'torrent' | 'magnet';

export interface ClientDriver {
  name: string;
  /** The program whose presence makes the client available. */
  program: string;
  /** Reads hybrid torrents? (Transmission 3.00, aria2 1.36 and rtorrent 0.9.8 do not: they get `create --v1-only`
   *  torrents.) */
  hybrids: boolean;
  /** Starts the client (daemons) under `dir`. */
  start(dir: string): Promise<void>;
  /** Adds a download of `t` (by its .torrent or its magnet) into `out`. */
  download(t: TorrentFiles, how: How, out: string): Promise<void>;
  /** Seeds `t` whose data lies in `model.parent`. */
  seed(t: TorrentFiles, model: Model): Promise<void>;
  /** Drops every torrent (and per-torrent processes) before the next scenario. */
  reset(): Promise<void>;
  stop(): Promise<void>;
  /** Failures of the client's own processes (an exit before the job was done). */
  errors: string[];
}

/** Ends a process and waits for it (SIGTERM, then SIGKILL after 3 s). */
async function end(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.kill('SIGTERM');
  const killed = setTimeout(() => p.kill('SIGKILL'), 3000);
  await p.exited;
  clearTimeout(killed);
}

/** Fails fast when a per-torrent client process exits before its job is done. */
function watchExit(p: Proc, what: string, errors: string[]): void {
  void p.exited.then((code) => {
    if (code !== 0 && code !== null) errors.push(`${what} exited with ${code}: ${p.stderr.slice(-3).join(' / ')}`);
  });
}

// ---- aria2 ----

export function aria2(): ClientDriver {
  let dir = '';
  let n = 0;
  let procs: Proc[] = [];
  const errors: string[] = [];
  // aria2 sends UDP tracker packets through its DHT socket ("udp is not supported yet" without it): DHT is on,
  // on a free port, with no entry point and a fresh routing table, so it contacts no one.
  const common = async () => [
    '--enable-dht=true',
    `--dht-listen-port=${await freePort()}`,
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    `--listen-port=${await freePort()}`,
    '--disable-ipv6=true',
    '--console-log-level=warn',
    '--summary-interval=0',
    '--bt-save-metadata=false',
    '--auto-file-renaming=false',
    '--allow-overwrite=true',
    '--file-allocation=none',
    '--no-conf=true',
    `--dht-file-path=${path.join(dir, `dht-${n++}.dat`)}`,
  ];
  return {
    errors,
    name: 'aria2 1.36',
    program: 'aria2c',
    hybrids: false,
    async start(d) {
      dir = d;
    },
    async download(t, how, out) {
      const p = startProc('aria2c', [
        ...(await common()),
        `--dir=${out}`,
        '--seed-time=0',
        how === 'torrent' ? t.file : t.magnet,
      ]);
      watchExit(p, 'aria2c', errors);
      procs.push(p);
    },
    async seed(t, model) {
      const p = startProc('aria2c', [
        ...(await common()),
        `--dir=${model.parent}`,
        '--check-integrity=true',
        '--seed-ratio=0.0',
        t.file,
      ]);
      watchExit(p, 'aria2c', errors);
      procs.push(p);
    },
    async reset() {
      await Promise.all(procs.map(end));
      procs = [];
    },
    async stop() {
      await this.reset();
    },
  };
}

// ---- Transmission (daemon + RPC) ----

/** Transmission's RPC: JSON over HTTP, after the session-id handshake (409 with the id to send). */
export function transmissionRpc(port: number): (method: string, args?: Record<string, unknown>) => Promise<any> {
  let session = '';
  return async function rpc(method, args = {}) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fetch(`http://127.0.0.1:${port}/transmission/rpc`, {
        method: 'POST',
        headers: { 'X-Transmission-Session-Id': session, 'Content-Type': 'application/json' },
        body: JSON.stringify({ method, arguments: args }),
      });
      if (res.status === 409) {
        session = res.headers.get('x-transmission-session-id') ?? '';
        continue;
      }
      const body = (await res.json()) as { result: string; arguments: any };
      if (body.result !== 'success') throw new Error(`transmission ${method}: ${body.result}`);
      return body.arguments;
    }
    throw new Error(`transmission ${method}: no session id`);
  };
}

export interface RunningTransmission {
  proc: Proc;
  rpc: ReturnType<typeof transmissionRpc>;
  peerPort: number;
}

/**
 * `transmission-daemon` headless under `dir` (its HOME and config): loopback only, no DHT, LPD or PEX, its own
 * free peer and RPC ports, uTP only when asked; resolves once its RPC answers.
 */
export async function startTransmission(
  dir: string,
  opts: { utp: boolean; downloadDir: string },
): Promise<RunningTransmission> {
  const conf = path.join(dir, 'conf');
  await mkdir(conf, { recursive: true });
  const rpcPort = await freePort();
  const peerPort = await freePort();
  await writeFile(
    path.join(conf, 'settings.json'),
    JSON.stringify({
      'dht-enabled': false,
      'lpd-enabled': false,
      'pex-enabled': false,
      'utp-enabled': opts.utp,
      'port-forwarding-enabled': false,
      'peer-port': peerPort,
      'peer-port-random-on-start': false,
      'bind-address-ipv4': '127.0.0.1',
      'bind-address-ipv6': '::1',
      'rpc-enabled': true,
      'rpc-port': rpcPort,
      'rpc-bind-address': '127.0.0.1',
      'rpc-whitelist-enabled': true,
      'rpc-whitelist': '127.0.0.1',
      'rpc-authentication-required': false,
      'rpc-host-whitelist-enabled': false,
      'download-dir': opts.downloadDir,
      'incomplete-dir-enabled': false,
      'rename-partial-files': true,
      'ratio-limit-enabled': false,
      'idle-seeding-limit-enabled': false,
      'start-added-torrents': true,
      'message-level': Number(process.env.SILMARIL_TRANSMISSION_LOG ?? 1),
      encryption: 1,
    }),
  );
  const proc = startProc('transmission-daemon', ['-f', '-g', conf], { env: { HOME: dir } });
  const rpc = transmissionRpc(rpcPort);
  await until(
    () =>
      rpc('session-get').then(
        () => true,
        () => false,
      ),
    'transmission RPC',
    20_000,
  );
  return { proc, rpc, peerPort };
}

export function transmission(): ClientDriver {
  let running: RunningTransmission | undefined;
  const rpc = (method: string, args?: Record<string, unknown>) => running!.rpc(method, args);
  return {
    errors: [],
    name: 'Transmission 3.00',
    program: 'transmission-daemon',
    hybrids: false,
    async start(dir) {
      running = await startTransmission(dir, { utp: false, downloadDir: path.join(dir, 'downloads') });
    },
    async download(t, how, out) {
      await mkdir(out, { recursive: true });
      await rpc('torrent-add', { filename: how === 'torrent' ? t.file : t.magnet, 'download-dir': out });
    },
    async seed(t, model) {
      await rpc('torrent-add', { filename: t.file, 'download-dir': model.parent });
    },
    async reset() {
      const { torrents } = await rpc('torrent-get', { fields: ['id'] });
      if (torrents.length) await rpc('torrent-remove', { ids: torrents.map((x: { id: number }) => x.id) });
    },
    async stop() {
      await end(running?.proc);
    },
  };
}

// ---- qBittorrent (Web API) ----

export function qbittorrent(): ClientDriver {
  let proc: Proc | undefined;
  let base = '';
  const api = async (p: string, body?: FormData | URLSearchParams) => {
    const res = await fetch(`${base}/api/v2/${p}`, { method: body ? 'POST' : 'GET', body, headers: { Referer: base } });
    if (!res.ok) throw new Error(`qBittorrent ${p}: ${res.status} ${await res.text()}`);
    return res;
  };
  const add = async (form: FormData) => {
    const text = await (await api('torrents/add', form)).text();
    if (!/ok/i.test(text)) throw new Error(`qBittorrent refused the torrent: ${text}`);
  };
  return {
    errors: [],
    name: 'qBittorrent 4.5',
    program: 'qbittorrent-nox',
    hybrids: true,
    async start(dir) {
      const conf = path.join(dir, 'qBittorrent', 'config');
      await mkdir(conf, { recursive: true });
      const web = await freePort();
      base = `http://127.0.0.1:${web}`;
      await writeFile(
        path.join(conf, 'qBittorrent.conf'),
        [
          '[LegalNotice]',
          'Accepted=true',
          '',
          '[BitTorrent]',
          'Session\\DHTEnabled=false',
          'Session\\LSDEnabled=false',
          'Session\\PeXEnabled=false',
          `Session\\Port=${await freePort()}`,
          'Session\\InterfaceAddress=127.0.0.1',
          'Session\\BTProtocol=TCP',
          'Session\\AnonymousModeEnabled=false',
          'Session\\QueueingSystemEnabled=false',
          `Session\\DefaultSavePath=${path.join(dir, 'downloads')}`,
          '',
          '[Preferences]',
          'Connection\\UPnP=false',
          'WebUI\\Address=127.0.0.1',
          `WebUI\\Port=${web}`,
          'WebUI\\LocalHostAuth=false',
          'WebUI\\HostHeaderValidation=false',
          'WebUI\\CSRFProtection=false',
          'WebUI\\UseUPnP=false',
          '',
        ].join('\n'),
      );
      proc = startProc('qbittorrent-nox', [`--profile=${dir}`, `--webui-port=${web}`], { env: { HOME: dir } });
      await until(
        async () => (await fetch(`${base}/api/v2/app/version`).catch(() => undefined))?.ok === true,
        'qBittorrent Web API',
        30_000,
      );
    },
    async download(t, how, out) {
      const form = new FormData();
      if (how === 'torrent') form.append('torrents', new Blob([await readFile(t.file)]), 'model.torrent');
      else form.append('urls', t.magnet);
      form.append('savepath', out);
      await add(form);
    },
    async seed(t, model) {
      const form = new FormData();
      form.append('torrents', new Blob([await readFile(t.file)]), 'model.torrent');
      form.append('savepath', model.parent);
      await add(form);
    },
    async reset() {
      const list = (await (await api('torrents/info')).json()) as { hash: string }[];
      if (list.length) {
        await api('torrents/delete', new URLSearchParams({ hashes: 'all', deleteFiles: 'false' }));
        await until(
          async () => ((await (await api('torrents/info')).json()) as unknown[]).length === 0,
          'qB delete',
          10_000,
        );
      }
    },
    async stop() {
      await end(proc);
    },
  };
}

// ---- rtorrent (a process per job, daemon mode, watch directory) ----

export function rtorrent(): ClientDriver {
  let dir = '';
  let n = 0;
  let procs: Proc[] = [];
  const errors: string[] = [];
  async function run(loadFile: string, contents: Uint8Array, saveDir: string): Promise<void> {
    const job = path.join(dir, `job${n++}`);
    const watch = path.join(job, 'watch');
    const session = path.join(job, 'session');
    await mkdir(watch, { recursive: true });
    await mkdir(session, { recursive: true });
    await mkdir(saveDir, { recursive: true });
    const port = await freePort();
    const rc = path.join(job, 'rtorrent.rc');
    await writeFile(
      rc,
      [
        'system.daemon.set = true',
        `session.path.set = ${session}`,
        `directory.default.set = ${saveDir}`,
        `network.port_range.set = ${port}-${port}`,
        'network.port_random.set = no',
        'network.bind_address.set = 127.0.0.1',
        'network.local_address.set = 127.0.0.1',
        'dht.mode.set = disable',
        'protocol.pex.set = no',
        'trackers.use_udp.set = yes',
        'protocol.encryption.set = allow_incoming,try_outgoing,enable_retry',
        'pieces.hash.on_completion.set = no',
        `log.open_file = "job", ${path.join(job, 'rtorrent.log')}`,
        'log.add_output = "info", "job"',
        'log.add_output = "tracker_info", "job"',
        `schedule2 = watch_start, 1, 1, ((load.start, (cat, "${watch}/", "*.torrent")))`,
        '',
      ].join('\n'),
    );
    await writeFile(path.join(watch, loadFile), contents);
    const p = startProc('rtorrent', ['-n', '-o', `import=${rc}`], { env: { HOME: job, TERM: 'dumb' } });
    watchExit(p, 'rtorrent', errors);
    procs.push(p);
  }
  return {
    errors,
    name: 'rtorrent 0.9.8',
    program: 'rtorrent',
    // rtorrent's libtorrent 0.13.8 knows no BEP 47 pad files: it writes a hybrid's `.pad/N` files to disk when it
    // downloads one, and cannot seed one from a folder without them (every piece touching a pad fails its check).
    hybrids: false,
    async start(d) {
      dir = d;
    },
    async download(t, how, out) {
      if (how === 'torrent') await run('model.torrent', await readFile(t.file), out);
      else {
        // rtorrent loads a magnet from a "torrent" holding just `magnet-uri`.
        const uri = Buffer.from(t.magnet);
        const meta = Buffer.concat([Buffer.from(`d10:magnet-uri${uri.length}:`), uri, Buffer.from('e')]);
        await run('magnet.torrent', meta, out);
      }
    },
    async seed(t, model) {
      await run('model.torrent', await readFile(t.file), model.parent);
    },
    async reset() {
      await Promise.all(procs.map(end));
      procs = [];
    },
    async stop() {
      await this.reset();
    },
  };
}

// ---- libtorrent (python3-libtorrent, a process per job) ----

export function libtorrent(): ClientDriver {
  let procs: Proc[] = [];
  const errors: string[] = [];
  return {
    errors,
    name: 'libtorrent 2.0.8',
    program: PYTHON,
    hybrids: true,
    async start() {},
    async download(t, how, out) {
      await mkdir(out, { recursive: true });
      const p = ltGet(how === 'torrent' ? { torrent: t.file } : { magnet: t.magnet }, out, ['--timeout', '90']);
      watchExit(p, 'libtorrent', errors);
      procs.push(p);
    },
    async seed(t, model) {
      const { proc } = await ltSeed(t.file, model.parent);
      watchExit(proc, 'libtorrent', errors);
      procs.push(proc);
    },
    async reset() {
      for (const p of procs) p.child.stdin?.end();
      await Promise.all(procs.map(end));
      procs = [];
    },
    async stop() {
      await this.reset();
    },
  };
}

export function libtorrentAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
}
