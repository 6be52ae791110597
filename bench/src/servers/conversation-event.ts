import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener } from 'node:http';

/**
 * Scenario 3's event, as the peers publish it: the shape (and selection) of Atrium's
 * `conversationEvents { type conversationId message { id content createdAt senderType } }`.
 */
export interface ConversationEvent {
  type: 'MESSAGE_CREATED';
  conversationId: string;
  message: { id: string; content: string; createdAt: string; senderType: 'USER' };
}

/** What the load generator posts to a peer's `/publish` (Atrium gets a `sendMessage` mutation instead). */
export interface PublishRequest {
  conversationId: string;
  content: string;
}

async function readJson(request: IncomingMessage): Promise<PublishRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString()) as PublishRequest;
}

/**
 * The peers' HTTP side: `POST /publish` builds the event (a new message, as a mutation would) and
 * hands it to `publish`, answering once every subscriber has been handed it; anything else: 426.
 */
export function publishRoute(publish: (event: ConversationEvent) => void | Promise<void>): RequestListener {
  return (request, response) => {
    if (request.method !== 'POST' || request.url !== '/publish') {
      response.writeHead(426).end();
      return;
    }
    void readJson(request)
      .then(async ({ conversationId, content }) => {
        await publish({ type: 'MESSAGE_CREATED', conversationId, message: { id: randomUUID(), content, createdAt: new Date().toISOString(), senderType: 'USER' } });
        response.writeHead(204).end();
      })
      .catch((error: Error) => response.writeHead(400).end(error.message));
  };
}
