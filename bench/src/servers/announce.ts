/** Tells the parent (over IPC) where a server child listens; the runner waits for this message. */
export function announce(port: number): void {
  if (!process.send) {
    console.log(`listening on ${port}`);
    return;
  }
  process.send({ port });
  // The parent going away ends the child too.
  process.on('disconnect', () => process.exit(0));
}
