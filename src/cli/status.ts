// `silmaril status [--json]`: what the node running this home (a daemon or an editor) is doing: its transfers,
// catalog and tracker. Exit code 3 when no node runs the home.
import { jsonLine, parseCommand, resolveHome } from './args.js';
import { human } from './progress.js';
import { ControlClient } from '../app/control-client.js';
import { lockOwner, describeOwner } from '../app/lock.js';

export const usage = `usage: silmaril status [options]
Shows the node running this home (daemon or editor): its transfers, catalog and tracker. Exit code 3: none runs.
  --json                 one JSON object: {running, pid, kind, uptime, port, dhtPort, transfers: [...], ...}
  --all                  list the node's system transfers too (its catalog files), tagged "system"
  --home DIR             state directory
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, { all: { type: 'boolean' } });
  const home = resolveHome(values.home);
  const client = await ControlClient.connect(home);
  if (!client) {
    const owner = await lockOwner(home);
    if (values.json) jsonLine({ running: false, home, ...(owner ? { busy: owner } : {}) });
    else if (owner) process.stdout.write(`${home}: used by a ${describeOwner(owner)} (no control API)\n`);
    else process.stdout.write(`no node is running for ${home}\n`);
    return 3;
  }
  const s = await client.status({ all: !!values.all });
  if (values.json) {
    jsonLine({ running: true, ...s });
    return 0;
  }
  const out: string[] = [
    `${s.kind} pid ${s.pid}, up ${s.uptime}s, home ${s.home}`,
    `peers on TCP ${s.port ?? '-'}, DHT ${s.dhtPort ? `UDP ${s.dhtPort} (${s.dhtNodes} nodes)` : 'off'}`,
    `publisher ${s.fingerprint ?? '-'}, ${s.catalogEntries} catalog entries` +
      (s.catalogPublish?.state === 'published'
        ? ', catalog published on the DHT'
        : s.catalogPublish
          ? `, catalog ${s.catalogPublish.message ?? s.catalogPublish.state}`
          : ''),
    s.tracker.running ? `tracker ${s.tracker.announceUrl} (${s.tracker.torrents} torrents)` : 'tracker off',
    `${s.transfers.filter((t) => !t.system).length} transfer(s), ${s.activeTransfers} active`,
  ];
  for (const t of s.transfers) {
    const pct = `${(t.progress * 100).toFixed(1)}%`;
    out.push(
      `  ${t.state.padEnd(11)} ${(t.system ? 'system' : t.kind).padEnd(8)} ${pct.padStart(6)}  ${t.name}  ${human(t.size)}  down ${human(t.downloadRate)}/s up ${human(t.uploadRate)}/s  peers ${t.peers}  ${t.id}`,
    );
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
