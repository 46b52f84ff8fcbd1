// The `silmaril.*` settings, read in one place. Secrets (registry keys, the publisher key) are never settings:
// they live in SecretStorage (src/ui/secrets.ts).
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { resolveHome } from '../home.js';
import type { CoreOptions } from './core.js';

const SIZES: Record<string, number> = { KiB: 1024, MiB: 1024 * 1024 };

export function pieceLengthSetting(value: string | undefined): number | undefined {
  const m = /^(\d+)(KiB|MiB)$/.exec(value ?? '');
  return m ? Number(m[1]) * SIZES[m[2]] : undefined;
}

export function readCoreOptions(): CoreOptions {
  const c = vscode.workspace.getConfiguration('silmaril');
  const home = resolveHome();
  const modelsDirectory = c.get<string>('modelsDirectory')?.trim() || join(home, 'models');
  const bootstrap = bootstrapSetting(c.get<string[] | null>('dht.bootstrap'));
  return {
    home,
    modelsDirectory: modelsDirectory.startsWith('~/') ? join(homedir(), modelsDirectory.slice(2)) : modelsDirectory,
    listenPort: c.get<number>('listenPort') ?? 0,
    // Both off would leave no way to reach peers: then both stay on (and the setting's description says so).
    ...transports(c.get<boolean>('peers.utp') ?? true, c.get<boolean>('peers.tcp') ?? true),
    dht: c.get<boolean>('dht.enabled') ?? true,
    dhtBootstrap: bootstrap,
    trackers: c.get<string[]>('trackers') ?? [],
    downloadLimit: (c.get<number>('downloadLimit') ?? 0) * 1024,
    uploadLimit: (c.get<number>('uploadLimit') ?? 0) * 1024,
    superSeed: c.get<boolean>('superSeed') ?? false,
    trustedPublishers: c.get<string[]>('trustedPublishers') ?? [],
    catalogSources: c.get<string[]>('catalogSources') ?? ['dht', 'trackers', 'local'],
    node: nodeSetting(c.get<string>('node')),
    hfWebSeed: c.get<boolean>('huggingFace.webSeed') ?? true,
  };
}

/**
 * `silmaril.dht.bootstrap`: empty (or an old `null`) means the public bootstrap nodes, `["none"]` none at all (a
 * private network), anything else exactly those `host:port` nodes.
 */
export function bootstrapSetting(value: string[] | null | undefined): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const nodes = value.map((v) => String(v).trim()).filter(Boolean);
  if (nodes.length === 0) return undefined;
  if (nodes.some((n) => n.toLowerCase() === 'none')) return [];
  return nodes;
}

/** `silmaril.node`; anything unknown is `auto`. */
export function nodeSetting(value: string | undefined): CoreOptions['node'] {
  return value === 'embedded' || value === 'attach' ? value : 'auto';
}

function transports(utp: boolean, tcp: boolean): { utp: boolean; tcp: boolean } {
  return utp || tcp ? { utp, tcp } : { utp: true, tcp: true };
}

export function trackerSettings(): { enabled: boolean; host: string; port: number } {
  const c = vscode.workspace.getConfiguration('silmaril.embeddedTracker');
  return {
    enabled: c.get<boolean>('enabled') ?? false,
    host: c.get<string>('host') ?? '127.0.0.1',
    port: c.get<number>('port') ?? 6969,
  };
}
