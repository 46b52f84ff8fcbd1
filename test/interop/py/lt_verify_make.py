#!/usr/bin/python3
"""libtorrent 2.0 helper for test/interop/libtorrent-verify.test.ts (run with /usr/bin/python3).

Reads one JSON request on stdin: {"jobs": [{"path": P, "pieceLength": N, "mode": "hybrid"|"v1"|"v2", "out": F}]}
Makes each torrent with lt.create_torrent (hybrid: default flags; v1: create_torrent.v1_only; v2: v2_only), writes it
to F, and replies on stdout {"results": [{"v1": hex|null, "v2": hex|null, "out": F, "pieces": n, "files": n}]}
with the infohashes libtorrent itself reports (torrent_info.info_hashes()).
"""
import json
import os
import sys

import libtorrent as lt

FLAGS = {"hybrid": 0, "v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only}


def make(job):
    fs = lt.file_storage()
    lt.add_files(fs, job["path"])
    t = lt.create_torrent(fs, job["pieceLength"], flags=FLAGS[job["mode"]])
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(job["path"])))
    data = lt.bencode(t.generate())
    with open(job["out"], "wb") as f:
        f.write(data)
    ti = lt.torrent_info(data)
    ih = ti.info_hashes()
    return {
        "v1": str(ih.v1) if ih.has_v1() else None,
        "v2": str(ih.v2) if ih.has_v2() else None,
        "out": job["out"],
        "pieces": ti.num_pieces(),
        "files": ti.files().num_files(),
    }


def main():
    request = json.load(sys.stdin)
    json.dump({"results": [make(j) for j in request["jobs"]]}, sys.stdout)


if __name__ == "__main__":
    main()
