// How the CLI words errors it did not raise itself (src/cli/errors.ts): Node system errors, a failed fetch, the
// core's own errors, and anything else: one line, the documented exit code, no raw code left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, CliError, UsageError } from '../../../src/cli/args.js';
import { describeError, EXIT, explainCodes } from '../../../src/cli/errors.js';

function errno(code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${code}: raw node text`), { code, ...extra });
}

test('system errors are put in words with a fix, exit 1', () => {
  const cases: [Error, string][] = [
    [errno('EACCES', { path: '/m/x' }), 'silmaril get: permission denied: /m/x (check its permissions)\n'],
    [errno('ENOSPC', { path: '/m' }), 'silmaril get: no space left on the device holding /m (free some space)\n'],
    [
      errno('EADDRINUSE', { address: '127.0.0.1', port: 6881 }),
      'silmaril get: 127.0.0.1:6881 is already in use (choose another --port, or 0 for any free port)\n',
    ],
    [errno('ENOTDIR', { path: '/a/b' }), 'silmaril get: not a folder: a file is in the way of /a/b (check the path)\n'],
    [errno('EMFILE'), 'silmaril get: too many open files (raise the limit with ulimit -n)\n'],
  ];
  for (const [err, line] of cases) {
    const r = describeError(err, 'get');
    assert.equal(r.line, line);
    assert.equal(r.code, EXIT.failure);
  }
});

test('a failed fetch says what failed, from its cause', () => {
  const err = new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 9 }),
  });
  assert.equal(
    describeError(err, 'discover').line,
    'silmaril discover: connection refused by 127.0.0.1:9 (is it running? check the URL and port)\n',
  );
  assert.equal(
    explainCodes('cannot reach the registry at http://x/: ECONNREFUSED'),
    'cannot reach the registry at http://x/: connection refused',
  );
});

test('usage errors: exit 2, the fix or the help, multi-line messages folded into one', () => {
  assert.deepEqual(describeError(new UsageError('bad\nthing.'), 'create'), {
    line: 'silmaril create: bad; thing (see silmaril create --help)\n',
    code: EXIT.usage,
  });
  assert.equal(
    describeError(new UsageError('missing <path>', { showUsage: true }), 'seed', 'usage: silmaril seed <path>').line,
    'silmaril seed: missing <path> (usage: silmaril seed <path>)\n',
  );
  assert.equal(describeError(new CliError('nope', 'do this', 3), 'x').code, 3);
});

test('the core errors keep their message; an unknown error points at SILMARIL_DEBUG and keeps its stack', () => {
  const disk = Object.assign(new Error('not enough disk space in /d: m needs 1.50 GiB more, 20.0 MiB free'), {
    name: 'DiskSpaceError',
  });
  assert.equal(
    describeError(disk, 'get').line,
    'silmaril get: not enough disk space in /d: m needs 1.50 GiB more, 20.0 MiB free (free some space, or choose another --out)\n',
  );
  const odd = describeError(new RangeError('Invalid array length'), 'info');
  assert.equal(odd.line, 'silmaril info: Invalid array length (run again with SILMARIL_DEBUG=1 for details)\n');
  assert.equal(odd.code, EXIT.failure);
  assert.match(odd.stack ?? '', /RangeError/);
  assert.equal(describeError(new Error('x'), undefined).line.startsWith('silmaril: x'), true);
});

test('typos find their option or command; unrelated words do not', () => {
  assert.equal(closest('--ot', ['--out', '--port', '--peer']), '--out');
  assert.equal(closest('gte', ['get', 'seed', 'share']), 'get');
  assert.equal(closest('--zzzzzz', ['--out', '--port']), undefined);
  assert.equal(closest('x', ['get']), undefined);
});

test('errors of a running node (control API) keep their meaning: 400 is usage, 404 a failure with the same fix', () => {
  const api = (message: string, status: number) =>
    Object.assign(new Error(message), { name: 'ControlApiError', status });
  const bad = describeError(api('name must look like org/model, got "../x"', 400), 'share');
  assert.equal(bad.line, 'silmaril share: name must look like org/model, got "../x" (see silmaril share --help)\n');
  assert.equal(bad.code, EXIT.usage);
  const missing = describeError(api('model acme/x not found in the catalog', 404), 'get');
  assert.equal(
    missing.line,
    'silmaril get: model acme/x not found in the catalog (silmaril discover lists the models this home knows)\n',
  );
  assert.equal(missing.code, EXIT.failure);
});
