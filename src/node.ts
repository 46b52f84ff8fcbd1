// One Silmaril node: the state directory and the parts that live in it. Both faces (the VS Code extension and the
// `silmaril` command) build one of these and start only the parts they need. Each part is a field plus a few
// lines in start()/stop(); the engine is the first.
import { mkdir } from 'node:fs/promises';
import { Engine, type EngineOptions } from './engine/engine.js';
import { silentLogger, type Logger } from './log.js';

export interface NodeOptions {
  /** The state directory (see src/home.ts): resume records, .torrent copies, and later catalog and tracker data. */
  home: string;
  logger?: Logger;
  /** P2P engine settings (the state directory and logger come from the node). */
  engine?: Omit<EngineOptions, 'home' | 'logger'>;
  /** Restart the seeds and downloads recorded in the state directory (the extension; the one-shot CLI commands
   *  run only what they were asked). */
  restoreTransfers?: boolean;
}

export class SilmarilNode {
  readonly home: string;
  readonly log: Logger;
  readonly engine: Engine;
  private started = false;
  private readonly restoreTransfers: boolean;

  constructor(options: NodeOptions) {
    this.restoreTransfers = options.restoreTransfers ?? false;
    this.home = options.home;
    this.log = options.logger ?? silentLogger;
    this.engine = new Engine({ ...options.engine, home: this.home, logger: this.log });
  }

  /** Creates the state directory and starts the engine (listening for peers), restoring transfers if asked. */
  async start(): Promise<void> {
    if (this.started) return;
    await mkdir(this.home, { recursive: true });
    await this.engine.start();
    this.started = true;
    if (this.restoreTransfers) await this.engine.restore();
  }

  /** Saves every part's state and releases ports and files. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.engine.stop();
  }
}
