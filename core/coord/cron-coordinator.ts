// node-cron 4.6 `distributed: true` asks a RunCoordinator `shouldRun(key, ttlMs)` on every fire, with
// key = `<task name>:<scheduled slot ISO time>` and ttlMs = the task's `distributedLease` (default 30 s).
// A throw from shouldRun makes node-cron skip the fire ("coordinator-error", fail-closed).
import type { RunCoordinator } from "node-cron";
import type { Coordination } from "./types.ts";

/**
 * Elects one process per scheduled fire by taking a lease on the slot's key.
 *
 * The lease is deliberately NOT released in onComplete: the key names one slot, so holding it until its TTL is what
 * stops a process whose clock or timer lags a little from running the same slot again after the winner finished.
 * Pick `distributedLease` larger than clock skew + tick delay between processes; it does not need to cover the
 * job's run time, because the next slot has a different key (use `noOverlap` or a lease inside the job for that).
 *
 * Usage: cron.schedule(expr, fn, { name: "daily-digest", distributed: true, runCoordinator: cronRunCoordinator(coord) })
 * or once for all tasks: cron.setRunCoordinator(cronRunCoordinator(coord)).
 */
export function cronRunCoordinator(coord: Coordination): RunCoordinator {
  return {
    async shouldRun(key, ttlMs) {
      return (await coord.acquire(`cron:${key}`, Math.max(1, Math.ceil(ttlMs)))) !== null;
    },
  };
}
