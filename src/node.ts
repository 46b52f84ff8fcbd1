// The engine of one home, and the lock that keeps it the only one (src/app/lock.ts). The application layer
// (src/app/node.ts) builds one of these with the catalog service, the tracker and the control API around it.
import { Engine, type EngineOptions } from './engine/engine.js';
import { silentLogger, type Logger } from './log.js';
import { HomeLock } from './app/lock.js';
import { prepareHome } from './app/layout.js';

export interface NodeOptions {
  /** The state directory (see src/home.ts and docs/architecture.md, "State files"). */
  home: string;
  logger?: Logger;
  /** P2P engine settings (the state directory and logger come from the node). */
  engine?: Omit<EngineOptions, 'home' | 'logger'>;
  /** Named in the home's lock (`daemon`, `editor`, `get`...): what a second node on this home is told runs it. */
  kind?: string;
}

export class SilmarilNode {
  readonly home: string;
  readonly log: Logger;
  readonly engine: Engine;
  private started = false;
  private lock?: HomeLock;
  private readonly kind: string;

  constructor(options: NodeOptions) {
    this.kind = options.kind ?? 'node';
    this.home = options.home;
    this.log = options.logger ?? silentLogger;
    this.engine = new Engine({ ...options.engine, home: this.home, logger: this.log });
  }

  /** Takes the home's lock (HomeBusyError when another node runs on it) and starts the engine. Restoring the
   *  home's transfers is the application layer's call (src/app/node.ts: the daemon and the editor do). */
  async start(): Promise<void> {
    if (this.started) return;
    await prepareHome(this.home, this.log);
    this.lock = await HomeLock.acquire(this.home, this.kind);
    try {
      await this.engine.start();
    } catch (err) {
      await this.lock.release();
      this.lock = undefined;
      throw err;
    }
    this.started = true;
  }

  /** Saves every part's state, releases ports and files, then the lock. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    try {
      await this.engine.stop();
    } finally {
      await this.lock?.release();
      this.lock = undefined;
    }
  }
}
