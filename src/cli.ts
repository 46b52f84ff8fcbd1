// The `silmaril` command: dispatches to one module per command (src/cli/<command>.ts).
// Each module exports `run(argv: string[]): Promise<number>` (the exit code) and `usage: string`.
import { UsageError } from './cli/args.js';
import { TorrentError } from './app/errors.js';

interface CommandModule {
  run(argv: string[]): Promise<number>;
  usage: string;
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

function mainUsage(): string {
  return `usage: silmaril <command> [options]\ncommands: ${Object.keys(commands).sort().join(', ')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainUsage());
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`silmaril: unknown command "${name}"\n${mainUsage()}`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const known =
      err instanceof UsageError ||
      err instanceof TorrentError ||
      ['BadRequestError', 'NotFoundError', 'HomeBusyError', 'ControlApiError'].includes((err as Error)?.name);
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`silmaril: ${message}\n`);
    if (!known && process.env.SILMARIL_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
