// How the `silmaril` command reports an error: one line on stderr, `silmaril <command>: <problem> (<fix>)`, and the
// exit code the README and `silmaril --help` document. Raw Node errors (ENOENT, EACCES, EADDRINUSE, a fetch that
// failed) are put in words here; a stack trace only with SILMARIL_DEBUG=1.
import { CliError, UsageError } from './args.js';

/** The exit codes, as documented in `silmaril --help` and the README. */
export const EXIT = {
  ok: 0,
  /** Something failed: network, damaged or missing data, I/O, a refusal by a tracker or node. */
  failure: 1,
  /** The command was called wrong: unknown command or option, bad value, missing argument, a path that does not exist. */
  usage: 2,
  /** `status` and `stop`: no node runs this home. */
  noNode: 3,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM. */
  interrupted: 130,
} as const;

export interface ErrorReport {
  /** One line, newline-terminated. */
  line: string;
  code: number;
  /** The stack, for SILMARIL_DEBUG=1, when the error was not one of ours. */
  stack?: string;
}

type Errno = Error & {
  code?: string;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
  hostname?: string;
};

const what = (e: Errno) => (e.path ? ` ${e.path}` : '');

/** A Node system error in words, with its fix; undefined when `err` is not one. */
export function describeErrno(err: Errno): { problem: string; hint?: string } | undefined {
  const where = endpointOf(err);
  switch (err.code) {
    case 'ENOENT':
      return { problem: `no such file or folder:${what(err) || ' (unnamed)'}`, hint: 'check the path' };
    case 'EACCES':
    case 'EPERM':
      return { problem: `permission denied${err.path ? `: ${err.path}` : ''}`, hint: 'check its permissions' };
    case 'ENOTDIR':
      return { problem: `not a folder: a file is in the way of${what(err)}`, hint: 'check the path' };
    case 'EISDIR':
      return { problem: `${err.path ?? 'this'} is a folder, a file was expected`, hint: 'check the path' };
    case 'EEXIST':
      return { problem: `${err.path ?? 'the target'} already exists`, hint: 'remove it or choose another path' };
    case 'ENOSPC':
      return {
        problem: `no space left on the device${err.path ? ` holding ${err.path}` : ''}`,
        hint: 'free some space',
      };
    case 'EDQUOT':
      return { problem: 'disk quota exceeded', hint: 'free some space' };
    case 'EROFS':
      return { problem: `read-only file system${err.path ? `: ${err.path}` : ''}`, hint: 'choose a writable folder' };
    case 'EMFILE':
    case 'ENFILE':
      return { problem: 'too many open files', hint: 'raise the limit with ulimit -n' };
    case 'EIO':
      return { problem: `input/output error${err.path ? ` reading ${err.path}` : ''}`, hint: 'check the disk' };
    case 'EADDRINUSE':
      return {
        problem: `${where || 'the port'} is already in use`,
        hint: 'choose another --port, or 0 for any free port',
      };
    case 'EADDRNOTAVAIL':
      return {
        problem: `cannot listen on ${where || 'that address'}: not an address of this machine`,
        hint: 'check --host',
      };
    case 'ECONNREFUSED':
      return {
        problem: `connection refused by ${where || 'the server'}`,
        hint: 'is it running? check the URL and port',
      };
    case 'ECONNRESET':
      return { problem: `the connection to ${where || 'the server'} was reset`, hint: 'try again' };
    case 'ETIMEDOUT':
      return { problem: `timed out reaching ${where || 'the server'}`, hint: 'check the network and the address' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { problem: `cannot resolve ${err.hostname ?? 'the host name'}`, hint: 'check the name and the network' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { problem: `cannot reach ${where || 'the server'}: no route`, hint: 'check the network and the address' };
  }
  return undefined;
}

/** Words for a raw error code left at the end of a message by a lower layer ("…: ECONNREFUSED"). */
export function explainCodes(text: string): string {
  return text.replace(/\b(E[A-Z]{3,}|EAI_AGAIN)\b/g, (code) => {
    const d = describeErrno({ name: 'Error', message: '', code });
    return d ? d.problem.replace(/ by the server$| to the server$/, '') : code;
  });
}

function endpointOf(err: Errno): string {
  if (err.address === undefined && err.port === undefined) return '';
  const host = err.address?.includes(':') ? `[${err.address}]` : (err.address ?? '');
  return err.port !== undefined ? `${host}:${err.port}` : host;
}

/** One line: the lines of a multi-line message joined with "; ", without a trailing period. */
function oneLine(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ')
    .replace(/\.$/, '');
}

/**
 * The line and exit code for an error that ended `command` (undefined: no command yet). `usageLine` is the command's
 * first usage line, shown as the fix for a missing or extra argument.
 */
export function describeError(err: unknown, command?: string, usageLine?: string): ErrorReport {
  const prefix = command ? `silmaril ${command}: ` : 'silmaril: ';
  const help = command ? `see silmaril ${command} --help` : 'see silmaril --help';
  const line = (problem: string, hint?: string) => `${prefix}${oneLine(problem)}${hint ? ` (${oneLine(hint)})` : ''}\n`;
  if (err instanceof UsageError) {
    const fixes = [err.hint, err.showUsage ? usageLine : undefined, err.help ? help : undefined].filter(
      (f): f is string => !!f,
    );
    // "did you mean --out? see silmaril get --help"; otherwise "; " between fixes.
    const joined = fixes.reduce((acc, f) => (acc ? `${acc}${acc.endsWith('?') ? ' ' : '; '}${f}` : f), '');
    return { line: line(err.message, joined || help), code: EXIT.usage };
  }
  if (err instanceof CliError) return { line: line(err.message, err.hint), code: err.exitCode };
  const e = err as Errno;
  if (!(err instanceof Error)) return { line: line(String(err)), code: EXIT.failure };
  const errno = describeErrno(e) ?? (e.cause instanceof Error ? describeErrno(e.cause as Errno) : undefined);
  if (errno) {
    // A failed fetch says what it was fetching in the outer message ("fetch failed" says nothing).
    const outer = e.code ? '' : e.message && e.message !== 'fetch failed' ? `${e.message}: ` : '';
    return { line: line(outer + errno.problem, errno.hint), code: EXIT.failure, stack: e.stack };
  }
  const status = (e as Error & { status?: number }).status;
  switch (e.name === 'ControlApiError' && status === 404 ? 'ControlApiError 404' : e.name) {
    case 'DiskSpaceError':
      return { line: line(e.message, 'free some space, or choose another --out'), code: EXIT.failure };
    case 'HfCacheError':
      return {
        line: line(e.message, 'check the repo name, or point HF_HUB_CACHE at the cache that holds it'),
        code: EXIT.failure,
      };
    case 'NotFoundError':
    case 'ControlApiError 404':
      return {
        line: line(
          e.message,
          /catalog/.test(e.message) ? 'silmaril discover lists the models this home knows' : undefined,
        ),
        code: EXIT.failure,
      };
    case 'TorrentError':
    case 'HomeBusyError':
    case 'SystemTransferError':
    case 'HubError':
    case 'EntryError':
    case 'CatalogFileError':
    case 'RegistryClientError':
      return { line: line(e.message), code: EXIT.failure };
    case 'BadRequestError':
      return { line: line(e.message, help), code: EXIT.usage };
    case 'ControlApiError':
      if (status === 400) return { line: line(e.message, help), code: EXIT.usage };
      return { line: line(e.message), code: EXIT.failure };
  }
  return {
    line: line(e.message || e.name, 'run again with SILMARIL_DEBUG=1 for details'),
    code: EXIT.failure,
    stack: e.stack,
  };
}
