// ConnectionHub (server/connection-hub.ts): the cluster primary's listeners hand connections out
// in turn, skip a member that can no longer take one, hold connections until a first member
// joins, and refuse new ones once closed. Real sockets on 127.0.0.1; members here are plain
// functions in this process.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { ConnectionHub, type ListenerName, type Member } from '../../src/server/connection-hub.js';
import { waitFor } from '../helpers/wait.js';

function recordingMember(name: string, seen: string[]): Member & { open: boolean } {
  return {
    open: true,
    take(_listener: ListenerName, socket: Socket) {
      seen.push(name);
      socket.destroy();
    },
  };
}

async function connect(address: string): Promise<void> {
  const at = address.lastIndexOf(':');
  const socket = net.connect(Number(address.slice(at + 1)), address.slice(0, at));
  await once(socket, 'connect');
  await once(socket, 'close'); // the member closed it
}

describe('ConnectionHub', () => {
  it('hands connections to its members in turn, skipping one that is closed', async () => {
    const hub = new ConnectionHub();
    const address = await hub.listen('http', '127.0.0.1:0');
    const seen: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((name) => recordingMember(name, seen)) as [
      ReturnType<typeof recordingMember>,
      ReturnType<typeof recordingMember>,
      ReturnType<typeof recordingMember>,
    ];
    try {
      for (const member of [a, b, c]) hub.join(member);
      for (let i = 0; i < 6; i++) await connect(address);
      assert.deepEqual(seen, ['a', 'b', 'c', 'a', 'b', 'c']);
      b.open = false;
      seen.length = 0;
      for (let i = 0; i < 4; i++) await connect(address);
      assert.deepEqual(seen, ['a', 'c', 'a', 'c']);
      hub.leave(a);
      seen.length = 0;
      for (let i = 0; i < 2; i++) await connect(address);
      assert.deepEqual(seen, ['c', 'c']);
    } finally {
      await hub.close();
    }
  });

  it('holds connections until a member joins, and refuses new ones once closed', async () => {
    const hub = new ConnectionHub();
    const address = await hub.listen('http', '127.0.0.1:0');
    const seen: string[] = [];
    const waiting = connect(address);
    // accepted and held: nobody to take it yet
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(seen, []);
    hub.join(recordingMember('late', seen));
    await waiting;
    assert.deepEqual(seen, ['late']);
    await hub.close();
    await assert.rejects(connect(address), /ECONNREFUSED/);
    assert.deepEqual(seen, ['late']);
  });

  it('closes some listeners and keeps the others (the drain keeps the metrics listener last)', async () => {
    const hub = new ConnectionHub();
    const api = await hub.listen('http', '127.0.0.1:0');
    const metrics = await hub.listen('metrics', '127.0.0.1:0');
    const seen: string[] = [];
    hub.join(recordingMember('a', seen));
    try {
      await hub.close(['http', 'ssh']); // no SSH listener here: nothing to close for it
      await assert.rejects(connect(api), /ECONNREFUSED/);
      await connect(metrics);
      assert.deepEqual(seen, ['a']);
    } finally {
      await hub.close();
    }
    await assert.rejects(connect(metrics), /ECONNREFUSED/);
  });

  it('keeps each listener turn of its own', async () => {
    const hub = new ConnectionHub();
    const [api, ssh] = [await hub.listen('http', '127.0.0.1:0'), await hub.listen('ssh', '127.0.0.1:0')];
    const seen: string[] = [];
    try {
      hub.join(recordingMember('a', seen));
      hub.join(recordingMember('b', seen));
      await connect(api);
      await connect(ssh);
      await connect(api);
      await connect(ssh);
      await waitFor('four connections', () => seen.length === 4);
      assert.deepEqual(seen, ['a', 'a', 'b', 'b']);
    } finally {
      await hub.close();
    }
  });
});
