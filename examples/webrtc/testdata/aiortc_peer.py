"""An aiortc peer for the webrtc example's tests.

usage: aiortc_peer.py BASE_URL ID MEDIA SETUP

It does what the page does: offers (MEDIA "audio": aiortc's silence track,
"data": a data channel only), POSTs the offer to BASE_URL/offer?id=ID&setup=SETUP,
applies the answer, then reports getStats() to BASE_URL/log every 0.5 s in
the page's JSON form, and closes the peer connection when a reply says
"close".
"""

import asyncio
import json
import sys
import urllib.request

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

base, sid, media, setup = sys.argv[1:5]


def post(path, body, ctype="text/plain"):
    req = urllib.request.Request(base + path, data=body.encode(), method="POST",
                                 headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def report(kind, **fields):
    fields.update(id=sid, kind=kind)
    try:
        return post("/log", json.dumps(fields), "application/json")
    except Exception as e:  # the server may be gone at the end of a test
        print("report failed:", e, flush=True)
        return ""


async def main():
    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection()
    channel = None
    if media == "data":
        channel = pc.createDataChannel("mediaport")
    else:
        pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    await loop.run_in_executor(None, lambda: report("offer", sdp=offer))
    try:
        answer = await loop.run_in_executor(
            None, post, "/offer?id=%s&setup=%s" % (sid, setup), offer)
    except Exception as e:
        await loop.run_in_executor(None, lambda: report("error", message=str(e)))
        raise
    await loop.run_in_executor(None, lambda: report("answer", sdp=answer))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    print("answer applied", flush=True)
    while True:
        s = {"iceState": pc.iceConnectionState, "connectionState": pc.connectionState,
             "channel": channel.readyState if channel else ""}
        for r in (await pc.getStats()).values():
            if r.type == "inbound-rtp":
                s["packetsReceived"] = r.packetsReceived
            elif r.type == "outbound-rtp":
                s["packetsSent"] = r.packetsSent
        # aiortc's getStats has no transport dtlsState: ask the DTLS
        # transport itself (bundled: one for every m= line).
        if pc.sctp is not None:
            s["dtlsState"] = pc.sctp.transport.state
        elif pc.getTransceivers():
            s["dtlsState"] = pc.getTransceivers()[0].sender.transport.state
        cmd = await loop.run_in_executor(None, lambda: report("stats", stats=s))
        if cmd == "close":
            await pc.close()
            await loop.run_in_executor(None, lambda: report("closed"))
            print("closed", flush=True)
            return
        await asyncio.sleep(0.5)


asyncio.run(main())
