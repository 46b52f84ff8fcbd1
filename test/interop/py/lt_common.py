"""What every libtorrent helper here shares: a session confined to loopback, and JSON lines on stdout."""
import json
import sys

import libtorrent as lt


def emit(obj):
    """One JSON object per line, flushed at once (the Node side reads lines as they come)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def loopback_session(port=0, **extra):
    """A session on 127.0.0.1 only, with every way of finding peers beyond the test switched off.

    uTP is off too: libtorrent's uTP crawls at 7-10 MiB/s over loopback, TCP runs at full speed.
    """
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    }
    settings.update(extra)
    return lt.session(settings)
