// Secrets live in VS Code's SecretStorage (the OS keychain on desktop), never in settings or files: the publisher
// key (the ed25519 seed that signs catalog entries) and tracker registry keys.
import type * as vscode from 'vscode';
import type { KeyStore } from '../app/keys.js';

const PUBLISHER_KEY = 'silmaril.publisherKey';

export class SecretKeyStore implements KeyStore {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  async load(): Promise<Uint8Array | undefined> {
    const hex = await this.secrets.get(PUBLISHER_KEY);
    if (!hex) return undefined;
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error('the stored publisher key is damaged (expected 64 hex digits)');
    return Buffer.from(hex, 'hex');
  }

  async save(seed: Uint8Array): Promise<void> {
    await this.secrets.store(PUBLISHER_KEY, Buffer.from(seed).toString('hex'));
  }
}

export function registryKeyName(trackerUrl: string): string {
  return `silmaril.registryKey:${trackerUrl}`;
}
