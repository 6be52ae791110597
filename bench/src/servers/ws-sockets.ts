import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { announce } from './announce.ts';
import { serveStats } from './stats.ts';

/** Scenario 6's floor: a raw `ws` server on node:http that only holds its sockets. */
const server = createServer((_request, response) => response.writeHead(426).end());
const sockets = new WebSocketServer({ server });
let connections = 0;
sockets.on('connection', () => {
  connections += 1;
});
server.listen(0, '127.0.0.1', () => {
  // A socket here is all there is: its connection counts as its "subscription".
  serveStats(() => ({ sockets: sockets.clients.size, subscriptions: connections }));
  announce((server.address() as { port: number }).port);
});
