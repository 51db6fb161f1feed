# aioice_peer.py PORT UFRAG PASSWORD CONTROLLING STAY
#
# A full ICE agent (aioice, as aiortc runs it) against an ICE-lite agent
# listening on 127.0.0.1:PORT. CONTROLLING 0 makes it start controlled, as
# the lite agent is: the lite agent must answer 487 and aioice switch to
# controlling. It prints "local HOST:PORT", then "nominated" once ICE has
# completed, sends consent checks for STAY seconds, and exits.
import asyncio
import sys

import aioice
import aioice.ice

# Host candidates on loopback only: aioice leaves 127.0.0.1 out.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


async def main():
    port, ufrag, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    controlling, stay = sys.argv[4] == "1", float(sys.argv[5])
    conn = aioice.Connection(ice_controlling=controlling, components=1, use_ipv6=False)
    conn.remote_is_lite = True
    conn.remote_username, conn.remote_password = ufrag, password
    await conn.gather_candidates()
    local = conn.local_candidates[0]
    print("local %s:%d" % (local.host, local.port), flush=True)
    await conn.add_remote_candidate(
        aioice.Candidate(foundation="1", component=1, transport="udp", priority=2130706431,
                         host="127.0.0.1", port=port, type="host"))
    await conn.add_remote_candidate(None)
    await conn.connect()
    print("nominated controlling=%s" % conn.ice_controlling, flush=True)
    await asyncio.sleep(stay)
    await conn.close()


asyncio.run(main())
