#!/usr/bin/python3
"""Two libtorrent 2.0 sessions on a private loopback DHT, for the BEP 33 scrape test (run with /usr/bin/python3).

  lt_dht_seed.py --torrent F --save DIR --bootstrap HOST:PORT
      session 1 seeds F (content in DIR) and announces it on the DHT (as a seed, BEP 33's `seed` flag); session 2 is
      a plain DHT node. Both bootstrap from HOST:PORT and from each other. Prints {"event": "ready", "dhtPorts":
      [p1, p2]} once the seed has announced, then runs until stdin closes.
"""
import argparse
import sys
import threading
import time

import libtorrent as lt

from lt_common import emit, loopback_session

DHT = {
    "enable_dht": True,
    "dht_bootstrap_nodes": "",
    # Every node here is 127.0.0.1: libtorrent's one-node-per-IP rules would keep all but one out.
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    "dht_prefer_verified_node_ids": False,
    "alert_mask": lt.alert.category_t.dht_notification | lt.alert.category_t.status_notification,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--torrent", required=True)
    p.add_argument("--save", required=True)
    p.add_argument("--bootstrap", required=True)
    a = p.parse_args()
    host, port = a.bootstrap.rsplit(":", 1)
    seed = loopback_session(**DHT)
    node = loopback_session(**DHT)
    ports = [seed.listen_port(), node.listen_port()]
    for s in (seed, node):
        s.add_dht_node((host, int(port)))
    seed.add_dht_node(("127.0.0.1", ports[1]))
    node.add_dht_node(("127.0.0.1", ports[0]))
    time.sleep(2)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(a.torrent)
    atp.save_path = a.save
    atp.flags |= lt.torrent_flags.seed_mode
    h = seed.add_torrent(atp)
    deadline = time.time() + 30
    announced = False
    while time.time() < deadline and not announced:
        h.force_dht_announce()
        time.sleep(1)
        for al in seed.pop_alerts():
            if isinstance(al, lt.dht_reply_alert) or al.what() == "dht_reply":
                announced = True
    emit({"event": "ready", "dhtPorts": ports, "announced": announced})
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    while not closed.wait(0.5):
        seed.pop_alerts()
        node.pop_alerts()


if __name__ == "__main__":
    main()
