// BullMQ's side of the cluster benchmark: a sandboxed processor file (BullMQ
// forks child processes that import it), running the same job as deadpool.
import { work } from './work.mjs';

export default async function processor(job) {
  const [kind, n] = job.data.args;
  return work(kind, n);
}
