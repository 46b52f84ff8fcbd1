#!/usr/bin/python3
# One libtorrent 2.0 peer of a swarm test or benchmark: a seed or a downloader of one torrent, meeting the others
# through the torrent's tracker. Loopback only, DHT/LSD/UPnP/NAT-PMP and uTP off.
#   lt_swarm_peer.py TORRENT SAVE_DIR [--seed] [--upload-limit BYTES_PER_S]
# Rate limits apply to loopback peers too: libtorrent exempts local peers from them unless every address is put
# in the global peer class (set_peer_class_filter).
# stdout, one JSON object per line: {"event":"ready","port":N}, {"event":"stats",...} twice a second,
# {"event":"done"} once a downloader has every piece; on stdin EOF (or any line) {"event":"stopped", uploaded,
# downloaded, peers: [{ip, port, client_id, pid, up, down, seed, first_seed}]} (per-peer byte totals, the last
# seen for peers gone; first_seed: it was a seed when first seen, i.e. not a fellow downloader).
import json
import os
import select
import sys
import time

import libtorrent as lt

from lt_common import emit, loopback_session


def main():
    args = sys.argv[1:]
    torrent, save = args[0], args[1]
    seed = "--seed" in args
    limit = int(args[args.index("--upload-limit") + 1]) if "--upload-limit" in args else 0
    ses = loopback_session(
        0,
        upload_rate_limit=limit,
        announce_to_all_trackers=True,
        announce_to_all_tiers=True,
        # As silmaril's engine: the whole swarm may connect to each other.
        connections_limit=200,
    )
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(f)
    params = {"ti": lt.torrent_info(torrent), "save_path": save}
    if seed:
        params["flags"] = lt.torrent_flags.seed_mode
    h = ses.add_torrent(params)
    emit({"event": "ready", "port": ses.listen_port()})

    peers = {}
    done_sent = False
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 0.5)
        for p in h.get_peer_info():
            key = "%s:%d" % (p.ip[0], p.ip[1])
            # Whether it was a seed when we first learnt what it has (a fellow downloader starts with few pieces).
            first_seed = peers[key]["first_seed"] if key in peers else None
            if first_seed is None and (p.num_pieces > 0 or p.flags & p.seed):
                first_seed = bool(p.flags & p.seed)
            peers[key] = {
                "first_seed": first_seed,
                "ip": p.ip[0],
                "port": p.ip[1],
                "client_id": p.pid.to_bytes()[:8].decode("latin-1"),
                "pid": p.pid.to_bytes().hex(),
                "up": p.total_upload,
                "down": p.total_download,
                "seed": bool(p.flags & p.seed),
            }
        st = h.status()
        emit({
            "event": "stats",
            "progress": st.progress,
            "uploaded": st.total_payload_upload,
            "downloaded": st.total_payload_download,
            "peers": st.num_peers,
        })
        if not seed and not done_sent and st.is_seeding:
            done_sent = True
            emit({"event": "done"})
        if r:
            sys.stdin.readline()
            break
    st = h.status()
    emit({
        "event": "stopped",
        "uploaded": st.total_payload_upload,
        "downloaded": st.total_payload_download,
        "peers": list(peers.values()),
    })
    ses.remove_torrent(h)


if __name__ == "__main__":
    main()
