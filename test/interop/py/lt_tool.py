#!/usr/bin/python3
"""libtorrent 2.0 helper for the interop tests (run with /usr/bin/python3, which has python3-libtorrent).

Reads one JSON request on stdin, writes one JSON reply on stdout.
  {"cmd": "create", "jobs": [{"path": P, "pieceLength": N, "out": F}]}
      -> {"results": [{"v1": hex, "v2": hex, "out": F}]}  (lt.create_torrent(fs, N) defaults: a hybrid)
  {"cmd": "check", "jobs": [{"torrent": F, "savePath": D}]}
      -> {"results": [{"seeding": bool, "have": n, "pieces": n, "error": str}]}
  (a session on 127.0.0.1 only, no DHT/LSD/UPnP/NAT-PMP/uTP: libtorrent hashes the data it finds on disk)
"""
import json
import os
import sys
import time

import libtorrent as lt

from lt_common import loopback_session


def create(job):
    fs = lt.file_storage()
    lt.add_files(fs, job["path"])
    t = lt.create_torrent(fs, job["pieceLength"])
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(job["path"])))
    data = lt.bencode(t.generate())
    if job.get("out"):
        with open(job["out"], "wb") as f:
            f.write(data)
    ti = lt.torrent_info(data)
    ih = ti.info_hashes()
    return {"v1": str(ih.v1), "v2": str(ih.v2), "out": job.get("out")}


def session():
    return loopback_session()


def check(jobs):
    ses = session()
    handles = []
    for job in jobs:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(job["torrent"])
        p.save_path = job["savePath"]
        p.flags &= ~lt.torrent_flags.auto_managed
        p.flags &= ~lt.torrent_flags.paused
        handles.append(ses.add_torrent(p))
    deadline = time.time() + 60
    errors = {}
    while time.time() < deadline:
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                errors[str(a.handle.info_hashes().v1)] = a.message()
        states = [h.status() for h in handles]
        if all(s.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data,
                                lt.torrent_status.allocating) and s.state != 0 for s in states) and \
                all(s.has_metadata for s in states):
            break
        time.sleep(0.05)
    out = []
    for h in handles:
        s = h.status()
        out.append({
            "seeding": s.is_seeding,
            "have": s.num_pieces,
            "pieces": h.torrent_file().num_pieces(),
            "state": str(s.state),
            "error": errors.get(str(h.info_hashes().v1), s.errc.message() if s.errc.value() else ""),
        })
    return out


def main():
    req = json.load(sys.stdin)
    if req["cmd"] == "create":
        res = [create(j) for j in req["jobs"]]
    elif req["cmd"] == "check":
        res = check(req["jobs"])
    else:
        raise SystemExit("unknown cmd")
    json.dump({"results": res}, sys.stdout)


if __name__ == "__main__":
    main()
