# The matrix bench's RTSP camera (bench/agent-matrix.bench.mjs): GStreamer's RTSP server serving one
# MPEG-TS file (H.264 or H.265 + AAC) at /agent and at /naive, paced in real time, a pipeline of its
# own per client session. (A pipeline shared by both clients would be closer to a camera, but
# gst-rtsp-server hands a client that joins a shared file pipeline late the stream from where the
# pipeline started, paced in real time: that client stays behind live by its join delay.)
# Usage: rtsp_camera.py FILE h264|h265  -> prints the bound port, then "playing <path> <unix time>"
# each time a session's pipeline starts (its stream time 0, the base of the fault timeline).
# Debian: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad.
import sys
import time

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)
path, codec = sys.argv[1], sys.argv[2]
if codec not in ('h264', 'h265'):
    sys.exit(f'codec must be h264 or h265, not {codec}')
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service('0')


def mount(mount_path):
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location={path} ! tsdemux name=d '
        f'd. ! queue ! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 '
        'd. ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )'
    )
    factory.set_shared(False)
    # Interleaved TCP only: the agent asks for it (agent/src/ffmpeg/input.ts), so does the baseline.
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)

    def on_configure(_factory, media):
        started = []

        def on_state(_media, state):
            if state == Gst.State.PLAYING and not started:
                started.append(True)
                print(f'playing {mount_path} {time.time():.3f}', flush=True)

        media.connect('new-state', on_state)

    factory.connect('media-configure', on_configure)
    server.get_mount_points().add_factory(mount_path, factory)


mount('/agent')
mount('/naive')
if server.attach(None) == 0:
    sys.exit('cannot listen on 127.0.0.1')
print(server.get_bound_port(), flush=True)
GLib.MainLoop().run()
