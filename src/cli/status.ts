// `silmaril status [--json]`: what the node running this home (a daemon or an editor) is doing: its transfers,
// catalog and tracker. Exit code 3 when no node runs the home.
import { expectArgs, jsonLine, parseCommand, resolveHome } from './args.js';
import { formatBytes, formatDuration, formatPercent, formatRate, plural } from '../shared/format.js';
import { ControlClient } from '../app/control-client.js';
import { lockOwner, describeOwner } from '../app/lock.js';

/** One line for `silmaril --help`. */
export const summary = 'Shows what the node running this home is doing.';

export const usage = `usage: silmaril status [options]
Shows the node running this home (daemon or editor): its transfers, catalog and tracker. Exit code 3: none runs.
  --json                 one JSON object: {running, pid, kind, uptime, port, dhtPort, transfers: [...], ...}
  --all                  list the node's system transfers too (its catalog files), tagged "system"
  --home DIR             state directory
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { all: { type: 'boolean' } });
  expectArgs(positionals, []);
  const home = resolveHome(values.home);
  const client = await ControlClient.connect(home);
  if (!client) {
    const owner = await lockOwner(home);
    if (values.json) jsonLine({ running: false, home, ...(owner ? { busy: owner } : {}) });
    else if (owner) process.stdout.write(`${home}: used by a ${describeOwner(owner)} (no control API)\n`);
    else process.stdout.write(`no node is running for ${home} (start one with: silmaril daemon)\n`);
    return 3;
  }
  const s = await client.status({ all: !!values.all });
  if (values.json) {
    jsonLine({ running: true, ...s });
    return 0;
  }
  const out: string[] = [
    `${s.kind} pid ${s.pid}, up ${formatDuration(s.uptime)}, home ${s.home}`,
    `peers on TCP ${s.port ?? '-'}, DHT ${s.dhtPort ? `UDP ${s.dhtPort} (${s.dhtNodes} nodes)` : 'off'}`,
    `publisher ${s.fingerprint ?? '-'}, ${plural(s.catalogEntries, 'catalog entry', 'catalog entries')}` +
      (s.catalogPublish?.state === 'published'
        ? ', catalog published on the DHT'
        : s.catalogPublish
          ? `, catalog ${s.catalogPublish.message ?? s.catalogPublish.state}`
          : ''),
    s.tracker.running ? `tracker ${s.tracker.announceUrl} (${s.tracker.torrents} torrents)` : 'tracker off',
  ];
  // The node's own catalog files are its business: counted apart, not listed among the user's transfers.
  const isSystem = (t: (typeof s.transfers)[number]) => (t as { system?: boolean }).system === true;
  const mine = s.transfers.filter((t) => !isSystem(t));
  const system = s.transfers.length - mine.length;
  const extra = system ? ` (and ${plural(system, 'catalog file')} the node keeps)` : '';
  out.push(
    mine.length
      ? `${plural(mine.length, 'transfer')}, ${s.activeTransfers} active${extra}`
      : `no transfers${extra} (silmaril get or share starts one)`,
  );
  // With --all, the node's catalog files are listed too, tagged "system".
  for (const t of values.all ? s.transfers : mine) {
    out.push(
      `  ${t.state.padEnd(11)} ${(isSystem(t) ? 'system' : t.kind).padEnd(8)} ${formatPercent(t.progress).padStart(6)}  ${t.name}  ${formatBytes(t.size)}  ↓ ${formatRate(t.downloadRate)} ↑ ${formatRate(t.uploadRate)}  ${plural(t.peers, 'peer')}  ${t.id}`,
    );
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
