/**
 * Tests that need a command from outside npm (promtool, prometheus): found on
 * PATH, they run; missing, they are skipped locally with a message saying
 * what was not checked and how to install it, and under CI (`CI=true`, where
 * .ci/run installs them) a missing command fails instead.
 */
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';

/** The path of executable `name` on PATH, if any. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A TCP port free on the loopback now (for a service a test starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const INSTALL =
  'Debian/Ubuntu: `apt-get install prometheus`, which brings prometheus and promtool; ' +
  'elsewhere: the Prometheus release archive';

/**
 * `describe(title, body)` when every one of `commands` is on PATH; `body` gets
 * their paths in the same order.
 */
export function describeWithCommands(
  title: string,
  commands: readonly string[],
  body: (paths: string[]) => void,
): void {
  const paths = commands.map(findOnPath);
  const missing = commands.filter((_, i) => paths[i] === undefined);
  if (missing.length === 0) {
    describe(title, () => body(paths as string[]));
    return;
  }
  const why = `${missing.join(' and ')} not on PATH (${INSTALL})`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      it(`finds ${missing.join(' and ')} (required in CI)`, () => {
        throw new Error(`${why}. In CI a missing command is a failure, not a skip.`);
      });
    });
    return;
  }
  console.warn(`[deadpool] SKIPPING "${title}": ${why}; these checks did NOT run.`);
  describe.skip(title, () => body(commands.map((name) => name)));
}
