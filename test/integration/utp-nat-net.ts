// Two home networks behind NATs, built from Linux network namespaces (root, `ip`, `nft`): the test's own private
// network, not the machine's. Nothing here touches the host's interfaces or routes, and every name carries a
// per-run tag, so cleanup removes exactly what was made.
//
//   ns pub  (10.77.0.1, bridge): tracker and relay, "the internet"
//    ├── ns rA  wan 10.77.0.2 │ lan 192.168.1.1  masquerade; inbound only for conntrack-established flows
//    │    └── ns A  192.168.1.2 (default via 192.168.1.1)
//    └── ns rB  wan 10.77.0.3 │ lan 192.168.2.1  the same
//         └── ns B  192.168.2.2
//
// The routers drop unsolicited inbound packets (forward and input policy drop; only `ct state established,related`
// gets in), so a packet from an address the host behind it has not sent to is dropped, as home routers do with
// endpoint-dependent filtering. Dropping in input (not answering with ICMP) matters: a confirmed conntrack entry for
// the dropped packet would make the router pick another source port for the host's own packet to that address, and
// hole punching would then fail as it does behind symmetric NATs.
import { execFileSync, spawnSync } from 'node:child_process';

export const PUB_ADDR = '10.77.0.1';
export const NAT_A_ADDR = '10.77.0.2';
export const NAT_B_ADDR = '10.77.0.3';
export const HOST_A_ADDR = '192.168.1.2';
export const HOST_B_ADDR = '192.168.2.2';

export interface NatNet {
  pub: string;
  routerA: string;
  routerB: string;
  a: string;
  b: string;
  destroy(): void;
}

/** Why this machine cannot build the namespaces, or undefined if it can. */
export function natNetMissing(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).error) return '`ip` is not installed (apt-get install iproute2)';
  if (spawnSync('nft', ['-v'], { stdio: 'ignore' }).error) return '`nft` is not installed (apt-get install nftables)';
  return undefined;
}

function run(cmd: string, args: string[], input?: string): void {
  execFileSync(cmd, args, { input, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
}

const ROUTER_RULES = `table ip natt {
  chain pr {
    type nat hook postrouting priority 100
    oifname "wan" masquerade
  }
}
table inet filt {
  chain inp {
    type filter hook input priority 0; policy drop
    iifname "lo" accept
    iifname "lan" accept
    ct state established,related accept
  }
  chain fw {
    type filter hook forward priority 0; policy drop
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
}
`;

/** Builds the namespaces; on any failure removes what it made and throws. */
export function buildNatNet(): NatNet {
  const tag = `s${(process.pid % 10000).toString(36)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`;
  const ns = { pub: `${tag}pub`, routerA: `${tag}rA`, routerB: `${tag}rB`, a: `${tag}A`, b: `${tag}B` };
  const made: string[] = [];
  const links: string[] = [];
  const destroy = () => {
    // Deleting a namespace deletes the veth ends inside it, and with them their peers.
    for (const n of made.splice(0)) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    for (const l of links.splice(0)) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
  };
  try {
    for (const n of Object.values(ns)) {
      run('ip', ['netns', 'add', n]);
      made.push(n);
      run('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
    }
    const inNs = (n: string, ...args: string[]) => run('ip', ['-n', n, ...args]);
    inNs(ns.pub, 'link', 'add', 'br0', 'type', 'bridge');
    inNs(ns.pub, 'link', 'set', 'br0', 'up');
    inNs(ns.pub, 'addr', 'add', `${PUB_ADDR}/24`, 'dev', 'br0');
    const sides = [
      { r: ns.routerA, h: ns.a, wan: NAT_A_ADDR, lan: '192.168.1.1', host: HOST_A_ADDR, id: 'a' },
      { r: ns.routerB, h: ns.b, wan: NAT_B_ADDR, lan: '192.168.2.1', host: HOST_B_ADDR, id: 'b' },
    ];
    for (const s of sides) {
      // veth pairs are born in the host namespace under tagged names and moved at once.
      const w = `${tag}w${s.id}`;
      const p = `${tag}p${s.id}`;
      const l = `${tag}l${s.id}`;
      const h = `${tag}h${s.id}`;
      run('ip', ['link', 'add', w, 'type', 'veth', 'peer', 'name', p]);
      links.push(w);
      run('ip', ['link', 'set', w, 'netns', s.r]);
      run('ip', ['link', 'set', p, 'netns', ns.pub]);
      links.pop();
      inNs(s.r, 'link', 'set', w, 'name', 'wan');
      inNs(ns.pub, 'link', 'set', p, 'master', 'br0');
      inNs(ns.pub, 'link', 'set', p, 'up');
      inNs(s.r, 'link', 'set', 'wan', 'up');
      inNs(s.r, 'addr', 'add', `${s.wan}/24`, 'dev', 'wan');
      run('ip', ['link', 'add', l, 'type', 'veth', 'peer', 'name', h]);
      links.push(l);
      run('ip', ['link', 'set', l, 'netns', s.r]);
      run('ip', ['link', 'set', h, 'netns', s.h]);
      links.pop();
      inNs(s.r, 'link', 'set', l, 'name', 'lan');
      inNs(s.r, 'link', 'set', 'lan', 'up');
      inNs(s.r, 'addr', 'add', `${s.lan}/24`, 'dev', 'lan');
      inNs(s.h, 'link', 'set', h, 'name', 'eth0');
      inNs(s.h, 'link', 'set', 'eth0', 'up');
      inNs(s.h, 'addr', 'add', `${s.host}/24`, 'dev', 'eth0');
      inNs(s.h, 'route', 'add', 'default', 'via', s.lan);
      run('ip', ['netns', 'exec', s.r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      run('ip', ['netns', 'exec', s.r, 'nft', '-f', '-'], ROUTER_RULES);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { ...ns, destroy };
}
