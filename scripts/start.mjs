// `npm start` (after `npm run build`): opens the extension in a real VS Code with a sample workspace (a tiny model
// folder). Desktop VS Code (`code --extensionDevelopmentPath`) when `code` is on PATH, otherwise code-server on
// 127.0.0.1 (installed on demand), printing the URL to open.
// The workspace lives outside the clone (sampleWorkspaceDir): inside it, the editor would find the clone's git
// repository above the folder and ask about it on every load.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { devHostUrl, root, startCodeServer } from './code-server.mjs';
import { sampleWorkspaceDir, writeSampleWorkspace } from './sample-workspace.mjs';

const workspace = sampleWorkspaceDir();
if (!existsSync(join(workspace, 'tiny-model'))) writeSampleWorkspace(workspace);

const forceServer = process.argv.includes('--code-server');
const hasCode = !forceServer && spawnSync('code', ['--version'], { stdio: 'ignore' }).status === 0;

if (hasCode) {
  console.log(`opening VS Code with the extension from ${root} on ${workspace}`);
  const child = spawn('code', ['--new-window', `--extensionDevelopmentPath=${root}`, workspace], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const portArg = process.argv.find((a) => a.startsWith('--port='));
  const port = portArg ? Number(portArg.slice('--port='.length)) : Number(process.env.PORT ?? 8080);
  const server = await startCodeServer({ folder: workspace, port, log: false });
  console.log(`code-server (VS Code 1.100.3) is running with the Silmaril extension loaded from ${root}`);
  console.log(`\n  open: ${devHostUrl(server.url, { folder: workspace })}\n`);
  console.log(`  sample workspace: ${workspace}`);
  console.log('Ctrl+C stops it.');
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
