// deadpool's side of the cluster benchmark: the one registered task.
import { defineTask } from 'deadpool/task';
import { work as run } from './work.mjs';

export const work = defineTask(import.meta.url, 'work', run);
