#!/usr/bin/python3
"""A libtorrent 2.0 peer for the engine interop tests and the transfer benchmark (run with /usr/bin/python3).

  lt_engine_peer.py seed --torrent F --save DIR [--upload-limit BYTES]
      seeds F whose content lies in DIR (the folder holding the torrent's root); prints
      {"event": "ready", "port": N} once seeding, then {"event": "stats", ...} every second; runs until stdin closes.
  lt_engine_peer.py get (--torrent F | --magnet M) --save DIR --peer HOST:PORT [--peer ...] [--url-seed URL ...]
      downloads into DIR from the given peers; prints stats every second and {"event": "done", ...} once complete,
      then exits 0 (or 1 on an error / timeout).
  Both take --transport tcp|utp|both (default tcp): which of libtorrent's transports are on, in and out, and
  --v2-peer HOST:PORT: a peer the torrent knows as a v2 peer (as if its v2 announce had returned it), with one
  connection per IP (libtorrent's default, qBittorrent's): libtorrent answers any connection from that IP with the
  truncated v2 hash, whichever hash the dialler sent (its peer entry is found by IP and says v2).

The session listens on 127.0.0.1 only, with uTP, DHT, LSD, UPnP and NAT-PMP off (libtorrent's loopback uTP is slow).
"""
import argparse
import json
import os
import sys
import threading
import time

import libtorrent as lt

from lt_common import emit, loopback_session


def session(extra=None):
    return loopback_session(**(extra or {}))


# peer_info::utp_socket (17_bit in libtorrent 2.0's peer_info.hpp; the Python binding does not export it).
UTP_SOCKET = 1 << 17
# pex_lt_v2 (7_bit in pex_flags.hpp; not exported either): the peer speaks v2 for this torrent.
PEX_LT_V2 = 1 << 7


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def stats(h, extra=None):
    s = h.status()
    d = {
        "event": "stats",
        "progress": s.progress,
        "state": str(s.state),
        "done": s.total_done,
        "wanted": s.total_wanted,
        "downloaded": s.all_time_download,
        "uploaded": s.all_time_upload,
        "payloadUploaded": s.total_payload_upload,
        "peers": s.num_peers,
        "seeding": s.is_seeding,
        "utpPeers": sum(1 for p in h.get_peer_info() if int(p.flags) & UTP_SOCKET),
        "tcpPeers": sum(1 for p in h.get_peer_info() if not int(p.flags) & UTP_SOCKET),
        "cpu": cpu_seconds(),
        "error": str(s.errc.message()) if s.errc.value() else "",
    }
    d.update(extra or {})
    return d


def peer_tuple(p):
    host, port = p.rsplit(":", 1)
    return (host.strip("[]"), int(port))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "get"])
    ap.add_argument("--torrent")
    ap.add_argument("--magnet")
    ap.add_argument("--save", required=True)
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--url-seed", action="append", default=[])  # BEP 19 web seeds (bench:hub's reference)
    ap.add_argument("--upload-limit", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--transport", choices=["tcp", "utp", "both"], default="tcp")
    ap.add_argument("--v2-peer", action="append", default=[])
    ap.add_argument("--redial", type=float, default=1.0, help="dial the peers again after this many idle seconds")
    args = ap.parse_args()

    extra = {"upload_rate_limit": args.upload_limit} if args.upload_limit else {}
    tcp = args.transport in ("tcp", "both")
    utp = args.transport in ("utp", "both")
    extra.update({
        "enable_outgoing_tcp": tcp,
        "enable_incoming_tcp": tcp,
        "enable_outgoing_utp": utp,
        "enable_incoming_utp": utp,
    })
    if args.v2_peer:
        extra["allow_multiple_connections_per_ip"] = False
    ses = session(extra)
    if args.upload_limit:
        # libtorrent exempts local peers from rate limits unless every address is in the global peer class: without
        # this, --upload-limit did nothing on loopback (as in lt_swarm_peer.py).
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        ses.set_peer_class_filter(f)
    if args.torrent:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(args.torrent)
    else:
        p = lt.parse_magnet_uri(args.magnet)
    p.save_path = args.save
    h = ses.add_torrent(p)
    for url in args.url_seed:
        h.add_url_seed(url)
    for peer in args.peer:
        h.connect_peer(peer_tuple(peer))
    for peer in args.v2_peer:
        # pex_encryption | pex_utp | pex_holepunch (connect_peer's default flags) | pex_lt_v2 (7_bit, pex_flags.hpp)
        h.connect_peer(peer_tuple(peer), 0, 13 | PEX_LT_V2)

    if args.mode == "seed":
        deadline = time.time() + args.timeout
        while not h.status().is_seeding:
            if h.status().errc.value():
                emit(stats(h, {"event": "error"}))
                return 1
            if time.time() > deadline:
                emit(stats(h, {"event": "error", "error": "never reached seeding"}))
                return 1
            time.sleep(0.05)
        emit({"event": "ready", "port": ses.listen_port()})
        closed = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
        while not closed.wait(1.0):
            emit(stats(h))
        emit(stats(h, {"event": "stopped"}))
        return 0

    start = time.time()
    last = 0.0
    last_dial = start
    while True:
        s = h.status()
        if s.errc.value():
            emit(stats(h, {"event": "error"}))
            return 1
        if s.is_seeding:
            emit(stats(h, {"event": "done", "seconds": time.time() - start}))
            return 0
        if time.time() - start > args.timeout:
            emit(stats(h, {"event": "error", "error": "timeout"}))
            return 1
        if time.time() - last >= 1.0:
            emit(stats(h))
            last = time.time()
            # libtorrent may drop a peer it dialled before the other side was ready: dial again while idle.
            if s.num_peers == 0 and time.time() - last_dial >= args.redial:
                last_dial = time.time()
                for peer in args.peer:
                    h.connect_peer(peer_tuple(peer))
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
