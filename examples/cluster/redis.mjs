// A throwaway Redis for the cluster example and benchmark: redis-server on a
// free loopback port, in the foreground as a child of this process (no
// persistence, `noeviction` as BullMQ needs). `stop()` ends it and waits.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis() {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--maxmemory-policy', 'noeviction');
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('close', resolve));
  await new Promise((resolve, reject) => {
    let output = '';
    child.once('error', (error) =>
      reject(
        error.code === 'ENOENT'
          ? new Error('redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)')
          : error,
      ),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) resolve();
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  return {
    port,
    connection: { host: '127.0.0.1', port },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
