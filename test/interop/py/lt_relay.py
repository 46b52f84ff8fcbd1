#!/usr/bin/python3
"""A libtorrent 2.0 node for the two-NAT test (test/integration/utp-nat.test.ts) as the BEP 55 relay.

  lt_relay.py --torrent F --save DIR --listen IP:PORT --tracker URL

Joins the swarm of F with nothing on disk, downloading at 1 KiB/s, announcing to URL, uTP and TCP on, PEX on (libtorrent's
default plugins), DHT, LSD, UPnP and NAT-PMP off. libtorrent answers ut_holepunch rendezvous requests by itself
(bt_peer_connection::on_holepunch). Prints {"event": "ready"} then {"event": "stats", "peers": N, ...} every second
until stdin closes.
"""
import argparse
import sys
import threading

import libtorrent as lt

from lt_common import emit, loopback_session


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--tracker", required=True)
    args = ap.parse_args()

    ses = loopback_session(
        listen_interfaces=args.listen,
        enable_outgoing_utp=True,
        enable_incoming_utp=True,
    )
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(args.torrent)
    p.save_path = args.save
    p.trackers = [args.tracker]
    h = ses.add_torrent(p)
    # 1 KiB/s, so it never completes a piece it could serve A from. A torrent's own limit applies to every peer; the
    # session's would not (libtorrent exempts LAN peers, and the test's 10.x "internet" is a LAN to it).
    h.set_download_limit(1024)
    emit({"event": "ready", "port": ses.listen_port()})
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    while not closed.wait(1.0):
        s = h.status()
        emit({"event": "stats", "peers": s.num_peers, "done": s.total_done, "progress": s.progress})
    return 0


if __name__ == "__main__":
    sys.exit(main())
