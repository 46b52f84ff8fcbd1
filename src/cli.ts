// The `silmaril` command: dispatches to one module per command (src/cli/<command>.ts).
// Each module exports `run(argv: string[]): Promise<number>` (the exit code), `usage: string` (its --help, the
// first line the usage line) and `summary` (one line for `silmaril --help`). Every error ends here and is printed as one line (src/cli/errors.ts).
import { closest } from './cli/args.js';
import { describeError, EXIT } from './cli/errors.js';
import { SILMARIL_VERSION } from './version.js';

interface CommandModule {
  run(argv: string[]): Promise<number>;
  usage: string;
  /** One line for `silmaril --help`. */
  summary: string;
}

const commands: Record<string, () => Promise<CommandModule>> = {
  // one line per command, e.g. create: () => import('./cli/create.js'),
  create: () => import('./cli/create.js'),
  info: () => import('./cli/info.js'),
  verify: () => import('./cli/verify.js'),
  seed: () => import('./cli/seed.js'),
  get: () => import('./cli/get.js'),
  tracker: () => import('./cli/tracker.js'),
  share: () => import('./cli/share.js'),
  discover: () => import('./cli/discover.js'),
  list: () => import('./cli/list.js'),
  daemon: () => import('./cli/daemon.js'),
  status: () => import('./cli/status.js'),
  stop: () => import('./cli/stop.js'),
};

const names = Object.keys(commands).sort();

export const exitCodes = `exit codes:
  0    success
  1    failure: network, damaged or missing data, I/O, refused by a tracker or node
  2    usage: unknown command or option, bad value, missing or extra argument, a path that does not exist
  3    status, stop: no node runs this home
  130  interrupted (Ctrl-C)
`;

async function mainUsage(): Promise<string> {
  const rows = await Promise.all(names.map(async (n) => `  ${n.padEnd(9)} ${(await commands[n]()).summary}`));
  return (
    `usage: silmaril <command> [options]     (silmaril <command> --help: its options)\n` +
    `commands:\n${rows.join('\n')}\n` +
    `options every command takes: --home DIR (default $SILMARIL_HOME or ~/.silmaril), --json, --help\n` +
    `silmaril --version: the version\n` +
    exitCodes
  );
}

/** The command's own --help: its usage and the exit codes. */
function commandHelp(command: CommandModule): string {
  return `${command.usage.replace(/\n*$/, '\n')}exit codes: 0 success, 1 failure, 2 usage error (see silmaril --help)\n`;
}

let current: { name: string; usageLine?: string } | undefined;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write(`silmaril: missing command (one of: ${names.join(', ')}; see silmaril --help)\n`);
    return EXIT.usage;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`silmaril ${SILMARIL_VERSION}\n`);
    return EXIT.ok;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic && commands[topic]) {
      process.stdout.write(commandHelp(await commands[topic]()));
      return EXIT.ok;
    }
    if (topic) return unknownCommand(topic);
    process.stdout.write(await mainUsage());
    return EXIT.ok;
  }
  const load = commands[name];
  if (!load) return unknownCommand(name);
  const command = await load();
  current = { name, usageLine: command.usage.split('\n')[0].replace(/^usage:\s*/, 'usage: ') };
  // --help anywhere before a `--` shows the command's help, whatever else is wrong with the line.
  const beforeDashes = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (beforeDashes.includes('--help') || beforeDashes.includes('-h')) {
    process.stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  return command.run(rest);
}

function unknownCommand(name: string): number {
  const near = closest(name, names);
  const hint = near ? `did you mean ${near}? ` : '';
  const shown = name.startsWith('-') ? `option ${name} before the command` : `command "${name}"`;
  process.stderr.write(`silmaril: unknown ${shown} (${hint}commands: ${names.join(', ')}; see silmaril --help)\n`);
  return EXIT.usage;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const report = describeError(err, current?.name, current?.usageLine);
    process.stderr.write(report.line);
    if (report.stack && process.env.SILMARIL_DEBUG) process.stderr.write(`${report.stack}\n`);
    process.exitCode = report.code;
  },
);
