import asyncio
from test_realtime import *
from test_realtime import alice, bob

def test_dbg_invite(server, alice, bob):
    a, ac = alice
    b, bc = bob
    async def body():
        async with connected(server, a) as rc:
            q = asyncio.Queue()
            await wait(rc.subscribe_to_channel_changes(lambda cid, t: q.put_nowait((cid, t))))
            await wait(rc.get_channels())
            new = (await rest(bc.channels_create, unique("rt-new")))["channel"]["_id"]
            await rest(bc.channels_invite, new, a.id)
            await rest(bc.chat_post_message, "changes the new room", room_id=new)
            await next_matching(q, lambda e: e == (new, "c"), "rooms-changed for invited room")
    run(body())
