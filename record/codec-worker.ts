/** The CodecPool's worker entry: runs one codec task and transfers the resulting bytes back. */
import { move } from 'piscina';
import { type CodecTask, type CodecTaskResult, runCodecTask } from './codec-task.js';

export default function codecWorker(task: CodecTask): CodecTaskResult {
  const result = runCodecTask(task);
  return result instanceof ArrayBuffer ? (move(result) as ArrayBuffer) : result;
}
