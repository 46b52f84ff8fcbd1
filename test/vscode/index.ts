// The extension tests' entry (`extensionTestsPath`), run inside a real VS Code extension host by
// scripts/test-vscode.mjs (code-server here). code-server ignores the exit code of a test run, so the results also
// go to a JSON file ($SILMARIL_TEST_RESULTS) that the script reads. Desktop VS Code (@vscode/test-cli) does not use
// this file: it loads the *.test.js files itself (.vscode-test.mjs).
import Mocha from 'mocha';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Result {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec' });
  const grep = process.env.SILMARIL_TEST_GREP;
  if (grep) mocha.grep(grep);
  // Restricted Mode needs a window of its own (workspace trust on): those tests run in a second pass.
  const untrusted = process.env.SILMARIL_TEST_MODE === 'untrusted';
  for (const name of readdirSync(__dirname).sort()) {
    if (name.endsWith(untrusted ? '.untrusted.js' : '.test.js')) mocha.addFile(join(__dirname, name));
  }
  const results: Result[] = [];
  const out = process.env.SILMARIL_TEST_RESULTS;
  let failures = 0;
  try {
    failures = await new Promise<number>((resolve) => {
      const runner = mocha.run((n) => resolve(n));
      runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
      runner.on('pending', (t) => results.push({ title: t.fullTitle(), state: 'pending' }));
      runner.on('fail', (t, err: Error) =>
        results.push({ title: t.fullTitle(), state: 'failed', error: err?.stack ?? String(err) }),
      );
    });
  } catch (err) {
    failures = Math.max(1, failures);
    results.push({ title: 'test runner', state: 'failed', error: (err as Error)?.stack ?? String(err) });
  }
  const notes = (globalThis as { __silmarilNotes?: string[] }).__silmarilNotes ?? [];
  if (out) writeFileSync(out, JSON.stringify({ failures, results, notes }, null, 2));
  if (failures > 0) throw new Error(`${failures} extension test(s) failed`);
}
