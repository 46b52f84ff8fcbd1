// `silmaril stop`: asks the node running this home (a daemon or an editor) to stop, and waits until it has.
import { intOption, jsonLine, parseCommand, resolveHome } from './args.js';
import { ControlClient } from '../app/control-client.js';
import { processAlive } from '../app/lock.js';

export const usage = `usage: silmaril stop [options]
Stops the node running this home (its transfers resume when it starts again). Exit code 3: none runs.
  --timeout N            seconds to wait for it to stop (default 30)
  --json                 one JSON object: {event:"stopped", pid, kind}
  --home DIR             state directory
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, { timeout: { type: 'string' } });
  const home = resolveHome(values.home);
  const client = await ControlClient.connect(home);
  if (!client) {
    process.stdout.write(`no node is running for ${home}\n`);
    return 3;
  }
  const { pid, kind } = client.node;
  await client.shutdown();
  const end = Date.now() + (intOption(values.timeout, 'timeout', 1, 3600) ?? 30) * 1000;
  while (processAlive(pid) && kind !== 'editor') {
    if (Date.now() > end) {
      process.stderr.write(`silmaril: the ${kind} (pid ${pid}) has not stopped yet\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (values.json) jsonLine({ event: 'stopped', pid, kind });
  else process.stdout.write(`stopped the ${kind} (pid ${pid})\n`);
  return 0;
}
