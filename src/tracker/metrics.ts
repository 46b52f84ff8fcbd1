// Counters for /metrics (Prometheus text format). Weightless's names come first so its dashboards keep working.

export class Metrics {
  announces = 0;
  udpAnnounces = 0;
  scrapes = 0;
  udpConnects = 0;
  announceFailures = 0;
  rateLimited = 0;
  completions = 0;
  registryWrites = 0;
  registryRefusals = 0;
  httpRequests = 0;
  udpPackets = 0;
  udpErrors = 0;
  /** Connections closed on arrival by the per-address or total cap. */
  connectionsRefused = 0;
  /** Requests refused for a foreign Host, Origin or content type. */
  foreignRequests = 0;
  readonly startedAt = Date.now();
}

export interface Gauges {
  registered: number;
  peers: number;
  swarms: number;
  seeders: number;
  leechers: number;
  blocked: number;
}

type Line = [name: string, type: 'counter' | 'gauge', help: string, value: number];

export function renderMetrics(m: Metrics, g: Gauges): string {
  const lines: Line[] = [
    ['tracker_announces_total', 'counter', 'Total number of announce requests handled (HTTP and UDP)', m.announces],
    ['tracker_scrapes_total', 'counter', 'Total number of scrape requests handled (HTTP and UDP)', m.scrapes],
    ['tracker_active_peers', 'gauge', 'Current number of active peers in memory', g.peers],
    ['tracker_registered_torrents', 'gauge', 'Total number of torrents in registry', g.registered],
    ['tracker_swarms_total', 'gauge', 'Total number of active swarms', g.swarms],
    ['tracker_udp_announces_total', 'counter', 'Announces received over UDP (BEP 15)', m.udpAnnounces],
    ['tracker_udp_connects_total', 'counter', 'UDP connect requests answered', m.udpConnects],
    ['tracker_udp_packets_total', 'counter', 'UDP packets received', m.udpPackets],
    ['tracker_udp_errors_total', 'counter', 'UDP requests answered with an error', m.udpErrors],
    [
      'tracker_announce_failures_total',
      'counter',
      'Announces refused (unregistered, blocked, malformed)',
      m.announceFailures,
    ],
    ['tracker_rate_limited_total', 'counter', 'Requests refused by the per-client rate limit', m.rateLimited],
    ['tracker_completions_total', 'counter', 'Completed downloads counted since start', m.completions],
    ['tracker_registry_writes_total', 'counter', 'Registrations and takedowns saved', m.registryWrites],
    ['tracker_registry_refusals_total', 'counter', 'Registry writes refused', m.registryRefusals],
    ['tracker_http_requests_total', 'counter', 'HTTP requests received', m.httpRequests],
    ['tracker_connections_refused_total', 'counter', 'Connections closed by a connection cap', m.connectionsRefused],
    ['tracker_foreign_requests_total', 'counter', 'Requests refused for their Host or Origin', m.foreignRequests],
    ['tracker_seeders', 'gauge', 'Peers with nothing left to download', g.seeders],
    ['tracker_leechers', 'gauge', 'Peers still downloading', g.leechers],
    ['tracker_blocked_hashes', 'gauge', 'Infohashes on the takedown blocklist', g.blocked],
    [
      'tracker_uptime_seconds',
      'gauge',
      'Seconds since the tracker started',
      Math.floor((Date.now() - m.startedAt) / 1000),
    ],
  ];
  return lines.map(([n, t, h, v]) => `# HELP ${n} ${h}\n# TYPE ${n} ${t}\n${n} ${v}\n`).join('');
}
