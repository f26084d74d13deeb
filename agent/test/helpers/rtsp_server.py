# A real RTSP server for the agent's media tests: serves one MPEG-TS file (H.264 or H.265 + AAC) at
# /cam, paced in real time, a fresh pipeline per client. Uses GStreamer's gst-rtsp-server through
# PyGObject (Debian: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
# gstreamer1.0-plugins-bad).
# Usage: rtsp_server.py FILE [PORT] [h264|h265]  (PORT 0 or absent: any free port; codec: h264).
# Prints the bound port.
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
path = sys.argv[1]
port = sys.argv[2] if len(sys.argv) > 2 else '0'
codec = sys.argv[3] if len(sys.argv) > 3 else 'h264'
if codec not in ('h264', 'h265'):
    sys.exit(f'codec must be h264 or h265, not {codec}')
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( filesrc location={path} ! tsdemux name=d '
    f'd. ! queue ! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=1 '
    'd. ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )'
)
factory.set_shared(False)
server.get_mount_points().add_factory('/cam', factory)
if server.attach(None) == 0:
    sys.exit(f'cannot listen on 127.0.0.1:{port}')
print(server.get_bound_port(), flush=True)
GLib.MainLoop().run()
