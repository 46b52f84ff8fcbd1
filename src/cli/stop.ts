// `silmaril stop`: asks the node running this home (a daemon or an editor) to stop, and waits until it has.
import { expectArgs, intOption, jsonLine, parseCommand, resolveHome } from './args.js';
import { CliError } from './args.js';
import { ControlClient } from '../app/control-client.js';
import { processAlive } from '../app/lock.js';

/** One line for `silmaril --help`. */
export const summary = 'Stops the node running this home.';

export const usage = `usage: silmaril stop [options]
Stops the node running this home (its transfers resume when it starts again). Exit code 3: none runs.
  --timeout N            seconds to wait for it to stop (default 30)
  --json                 one JSON object: {event:"stopped", pid, kind}
  --home DIR             state directory
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { timeout: { type: 'string' } });
  expectArgs(positionals, []);
  const timeoutS = intOption(values.timeout, 'timeout', 1, 3600) ?? 30;
  const home = resolveHome(values.home);
  const client = await ControlClient.connect(home);
  if (!client) {
    process.stdout.write(`no node is running for ${home}\n`);
    return 3;
  }
  const { pid, kind } = client.node;
  await client.shutdown();
  const end = Date.now() + timeoutS * 1000;
  while (processAlive(pid) && kind !== 'editor') {
    if (Date.now() > end)
      throw new CliError(
        `the ${kind} (pid ${pid}) has not stopped after ${timeoutS} s`,
        `wait longer with --timeout N, or end it with kill ${pid}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
  if (values.json) jsonLine({ event: 'stopped', pid, kind });
  else process.stdout.write(`stopped the ${kind} (pid ${pid})\n`);
  return 0;
}
