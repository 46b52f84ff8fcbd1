// Runs the core's tests with node's test runner: `node test/run.mjs [unit|integration|interop ...]`.
// Sources run under tsx with the same native-addon stand-ins as the bundles (build/register.mjs).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'interop'];

function findTests(dir) {
  let found = [];
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of names.sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) found = found.concat(findTests(full));
    else if (name.endsWith('.test.ts')) found.push(relative(root, full));
  }
  return found;
}

const files = suites.flatMap((suite) => findTests(join(root, 'test', suite)));
if (files.length === 0) {
  console.error(`no test files in ${suites.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  // A test that hangs fails after 5 minutes instead of holding the whole run (and CI) hostage.
  [
    '--import',
    'tsx',
    '--import',
    './build/register.mjs',
    '--test',
    '--test-timeout=300000',
    '--test-reporter=spec',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
