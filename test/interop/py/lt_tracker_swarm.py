#!/usr/bin/python3
# Two libtorrent 2.0 sessions that know each other only through a tracker: a seeder and a downloader of a
# hybrid v1+v2 torrent that libtorrent itself creates. DHT, LSD, UPnP, NAT-PMP and uTP are off; both listen on
# 127.0.0.1. Protocol (one JSON object per line):
#   stdin  {"dir": D, "tracker": URL}           -> stdout {"event": "created", "torrent": F, "v1": .., "v2": ..}
#   stdin  {"go": true}  (after registration)  -> stdout {"event": "done", ...} or {"event": "failed", ...}
#   stdin  any line or EOF                     -> both sessions close (announcing `stopped`) and it exits
import json
import os
import sys
import time

import libtorrent as lt

from lt_common import emit, loopback_session


def session(port):
    return loopback_session(
        port,
        announce_to_all_trackers=True,
        announce_to_all_tiers=True,
        alert_mask=lt.alert.category_t.all_categories,
    )


def main():
    req = json.loads(sys.stdin.readline())
    root = req["dir"]
    content = os.path.join(root, "seed", "lt-model")
    os.makedirs(os.path.join(content, "sub"))
    with open(os.path.join(content, "config.json"), "w") as f:
        f.write('{"model_type": "interop"}')
    with open(os.path.join(content, "sub", "weights.bin"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 12345))
    fs = lt.file_storage()
    lt.add_files(fs, content)
    ct = lt.create_torrent(fs, 65536)  # default flags: a hybrid v1+v2 torrent
    ct.add_tracker(req["tracker"])
    lt.set_piece_hashes(ct, os.path.dirname(content))
    data = lt.bencode(ct.generate())
    tpath = os.path.join(root, "lt-model.torrent")
    with open(tpath, "wb") as f:
        f.write(data)
    ti = lt.torrent_info(tpath)
    ih = ti.info_hashes()
    emit({"event": "created", "torrent": tpath, "v1": str(ih.v1), "v2": str(ih.v2), "hybrid": ih.has_v1() and ih.has_v2()})

    go = json.loads(sys.stdin.readline())
    if not go.get("go"):
        return

    seeder = session(req.get("seed_port", 0))
    leecher = session(req.get("leech_port", 0))
    hs = seeder.add_torrent({"ti": lt.torrent_info(tpath), "save_path": os.path.join(root, "seed")})
    hl = leecher.add_torrent({"ti": lt.torrent_info(tpath), "save_path": os.path.join(root, "leech")})
    replies = {"seeder": set(), "leecher": set()}
    errors = []
    deadline = time.time() + float(req.get("timeout", 120))
    done = False
    while time.time() < deadline:
        for name, s in (("seeder", seeder), ("leecher", leecher)):
            for a in s.pop_alerts():
                if isinstance(a, lt.tracker_reply_alert):
                    replies[name].add(str(a.version))
                elif isinstance(a, lt.tracker_error_alert):
                    errors.append("%s: %s %s" % (name, a.failure_reason, a.error.message()))
        st = hl.status()
        if st.is_seeding and len(replies["leecher"]) >= 2 and len(replies["seeder"]) >= 2:
            done = True
            break
        time.sleep(0.1)
    st = hl.status()
    emit({
        "event": "done" if done else "failed",
        "progress": st.progress,
        "seeding": st.is_seeding,
        "peers_seen": st.list_peers,
        "replies": {k: sorted(v) for k, v in replies.items()},
        "errors": errors[:20],
        "seeder_state": str(hs.status().state),
    })
    # Keep both sessions (and their places in the swarm) until told to go: closing them announces `stopped`.
    sys.stdin.readline()


if __name__ == "__main__":
    main()
