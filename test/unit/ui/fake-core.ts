// A fake of the narrow port the views see (UiCore, src/ui/core.ts): transfers and local models set by the test.
import type { LocalModelView, TrackerStatus, TransferView, UiCore } from '../../../src/ui/core.js';

export function transfer(over: Partial<TransferView> = {}): TransferView {
  return {
    id: '0123456789abcdef0123456789abcdef01234567',
    name: 'tiny',
    kind: 'seed',
    path: '/models/tiny',
    size: 2048,
    progress: 1,
    downloadRate: 0,
    uploadRate: 1024,
    downloaded: 0,
    uploaded: 4096,
    peers: 1,
    state: 'seeding',
    complete: true,
    system: false,
    verified: true,
    magnet: 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567',
    ...over,
  };
}

export class FakeCore implements Partial<UiCore> {
  started = true;
  mode = 'embedded' as const;
  dhtPort = undefined;
  list: TransferView[] = [];
  models: LocalModelView[] = [];
  scans = 0;
  transfers(): TransferView[] {
    return this.list;
  }
  async localModels(): Promise<LocalModelView[]> {
    this.scans++;
    return this.models;
  }
  trackerStatus(): TrackerStatus {
    return { running: false, torrents: 0, seeders: 0, leechers: 0 };
  }
}
