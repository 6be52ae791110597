import type { AtriumApp } from './createApp.ts';

/**
 * Runs an app as a process: starts it, stops it gracefully on SIGTERM/SIGINT, and exits with code 1
 * (after printing the reason) when configuration or start-up fails.
 */
export async function runApp(create: () => AtriumApp | Promise<AtriumApp>): Promise<AtriumApp | undefined> {
  let app: AtriumApp;
  try {
    app = await create();
    await app.start();
  } catch (error) {
    console.error(`Atrium failed to start: ${(error as Error).message}`);
    process.exitCode = 1;
    return undefined;
  }
  const shutdown = (signal: string) => {
    console.error(`${signal} received, stopping`);
    app.stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`Atrium failed to stop cleanly: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return app;
}
