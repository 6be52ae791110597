import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { announce } from './announce.ts';
import { publishRoute } from './conversation-event.ts';
import { serveStats } from './stats.ts';

/**
 * The floor of the subscription scenarios: a raw `ws` server on node:http. Scenario 6 only holds its
 * sockets; scenario 3 posts to `/publish`, and the event goes to every socket as one graphql-ws
 * `next` message, serialised once: the same JSON for all.
 */
const server = createServer(
  publishRoute((event) => {
    const message = JSON.stringify({ id: '1', type: 'next', payload: { data: { conversationEvents: event } } });
    for (const socket of sockets.clients) socket.send(message);
  }),
);
const sockets = new WebSocketServer({ server, perMessageDeflate: false });
let connections = 0;
sockets.on('connection', () => {
  connections += 1;
});
server.listen(0, '127.0.0.1', () => {
  // A socket here is all there is: its connection counts as its "subscription".
  serveStats(() => ({ sockets: sockets.clients.size, subscriptions: connections }));
  announce((server.address() as { port: number }).port);
});
