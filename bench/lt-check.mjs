// The libtorrent side of the benchmarks that hash data already on disk (bench/verify.mjs, bench/resume-check.mjs),
// as `python3 -c` programs for Debian's python3-libtorrent.

/** Makes a .torrent of a folder: `src piece out mode` (piece 0: libtorrent's choice; mode 'v1' or 'hybrid'). */
export const LT_MAKE = `
import sys, libtorrent as lt, os
src, piece, out, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, src)
t = lt.create_torrent(fs, piece, flags=(lt.create_torrent.v1_only if mode == 'v1' else 0))
lt.set_piece_hashes(t, os.path.dirname(src))
open(out, 'wb').write(lt.bencode(t.generate()))
`;

/**
 * Adds a torrent with its data in place (`torrent save threads`) and waits until it seeds, every piece checked.
 * Prints `ok <cpu s>` or `incomplete <have>/<pieces> <cpu s>` (CPU of the whole process).
 */
export const LT_CHECK = `
import sys, time, resource, libtorrent as lt
torrent, save, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False, 'hashing_threads': threads, 'aio_threads': threads})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(torrent)
p.save_path = save
p.flags &= ~lt.torrent_flags.auto_managed
p.flags &= ~lt.torrent_flags.paused
h = ses.add_torrent(p)
deadline = time.time() + 600
while time.time() < deadline:
    s = h.status()
    if s.is_seeding or s.errc.value():
        break
    time.sleep(0.005)
r = resource.getrusage(resource.RUSAGE_SELF)
state = 'ok' if s.is_seeding else 'incomplete %d/%d' % (s.num_pieces, p.ti.num_pieces())
print(state, r.ru_utime + r.ru_stime)
`;
